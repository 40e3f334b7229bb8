"""The relevance model: learns from the community's decisions which papers belong on the list, and where.

Pure: no database, no Discord. The model is trained from labelled `Example`s

* ``positive``: catalog papers (approved candidates and imported list entries), with their
  section and the list's key words; text = title + abstract, or title + digest;
* ``negative``: candidates the community rejected;
* ``background``: ordinary announcements nobody flagged (weak negatives): the community's
  own feed items, or the bundled sample (`feeds.background`) before the first poll,

and predicts, for a new paper, a relevance in 0..1, a section (with a runner-up when two
are close) and the three most similar catalog papers. Its parts, each importing only those
listed before it:

* `memory`: freed heap memory given back to the system after training (glibc keeps it).
* `text`: the features. Tf-idf over word 1-2 grams (sublinear tf, l2-normalised) of the
  cleaned title + text, plus a few latent-semantic columns (a truncated SVD of the commoner
  terms). Texts become rows with array operations over their code points (words found by
  character class, looked up by a 64-bit hash), not a Python step per word: that was most
  of the cost of scoring a feed.
* `neighbours`: the nearest catalog papers. Those of a large catalog are shortlisted in the
  latent space and re-ranked by their exact tf-idf cosine.
* `model`: `RelevanceModel`. Relevance is a class-weighted logistic regression over the
  features, blended with the cosine similarity to the nearest catalog paper (it catches
  papers that say the same thing as one catalog paper in words the linear model has not
  weighted yet). Sections come from `feeds.sections.SectionClassifier`: every section of
  the list, the catch-all included, a class of a class-balanced logistic regression over
  the list's own entries (title, digest or abstract, key words).
* `combining`: the model's prediction and the rules' match as one score (`combine`), and
  the best papers of each announcement day as candidates (`apply_budget`).

Calibration: a fifth of the background is held out of the regression; the relevance that
1 %, 3 %, ... of that unseen background reaches is stored (`metrics["calibration"]`), so a
flag rate ("3 % of an ordinary day") maps to a score cut (`threshold_for_rate`).

Serialisation (`to_bytes`/`from_bytes`) stores only numpy arrays and JSON in an
``np.savez`` archive behind a magic header and a format version; it is loaded with
``allow_pickle=False``, so a blob from anywhere can at worst be refused, never run code.
"""

from __future__ import annotations

# Beside the public API (`__all__`), the names other modules import from here (the ranking,
# tests and benchmarks) are re-exported explicitly (`name as name`).
from feeds.relevance.combining import RUNNER_UP_RATIO as RUNNER_UP_RATIO
from feeds.relevance.combining import apply_budget, combine, combined_scores
from feeds.relevance.memory import _give_back_memory as _give_back_memory
from feeds.relevance.model import (
    CALIBRATION_RATES,
    FORMAT_VERSION,
    Example,
    ModelFormatError,
    ModelKnobs,
    Neighbour,
    Prediction,
    RelevanceModel,
    TrainingError,
)
from feeds.relevance.model import EXACT_NEIGHBOURS_UP_TO as EXACT_NEIGHBOURS_UP_TO
from feeds.relevance.model import FORMAT_MAGIC as FORMAT_MAGIC
from feeds.relevance.model import MIN_HELD_OUT as MIN_HELD_OUT
from feeds.relevance.model import SHORTLIST as SHORTLIST
from feeds.relevance.model import _fit_logistic as _fit_logistic
from feeds.relevance.model import _held_out as _held_out
from feeds.relevance.neighbours import _pair_cosines as _pair_cosines
from feeds.relevance.neighbours import _row_order as _row_order
from feeds.relevance.neighbours import _top_k as _top_k
from feeds.relevance.neighbours import _top_k_blocked as _top_k_blocked
from feeds.relevance.text import _TOKEN_RE as _TOKEN_RE
from feeds.relevance.text import TextFeatures, example_text
from feeds.relevance.text import _HashIndex as _HashIndex
from feeds.relevance.text import _stack_rows as _stack_rows
from feeds.relevance.text import _vocabulary_counts as _vocabulary_counts
from feeds.relevance.text import stop_words as stop_words

__all__ = [
    "CALIBRATION_RATES",
    "FORMAT_VERSION",
    "Example",
    "ModelFormatError",
    "ModelKnobs",
    "Neighbour",
    "Prediction",
    "RelevanceModel",
    "TextFeatures",
    "TrainingError",
    "apply_budget",
    "combine",
    "combined_scores",
    "example_text",
]

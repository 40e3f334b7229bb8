"""Benchmark: the hand-written numerics of `feeds.relevance` against scikit-learn, on one core.

Texts = `example_text(title, abstract)` of 30,000 real records (10,000 from the 2015-2019
blog corpus: the catalog, y = 1; 20,000 from the 2025-26 daily listings: the background,
y = 0) and of 2,000 other daily records (a poll's worth). Each contender runs in a child
process of its own (this script with `--child`), so one's peak memory cannot hide the
other's; the peak is reset before each step (`/proc/self/clear_refs`), and memory is the
growth of `ru_maxrss` over the process's resident size at the step's start.

1. Vocabulary + tf-idf: `TextFeatures.fit` then `.transform` of the 30,000 (as tf-idf only,
   and with the 64 latent columns training uses) vs `TfidfVectorizer.fit_transform` then
   `.transform` with the same settings as far as they go (differences printed), and the
   transform of the 2,000 other texts.
2. Scoring 2,000 texts: `TextFeatures.transform` + `rows @ coef` vs
   `TfidfVectorizer.transform` + `decision_function` (a `LogisticRegression` fitted on the
   vectorizer's own rows, with the same weights).

The regressions (relevance and sections) are scikit-learn's `LogisticRegression`: the
hand-written L-BFGS regression this script used to measure reached the same solution 1.2 to
2.9 times slower, so it went.

Ratios are scikit-learn / hand-written (above 1: the hand-written part is faster or leaner).
No floors: exits non-zero only when a contender crashes.

    .venv/bin/python benchmarks/bench_numerics.py
"""

from __future__ import annotations

import os

# one core: set before numpy / scipy load their BLAS
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feeds.relevance import (  # noqa: E402
    _TOKEN_RE,
    MIN_HELD_OUT,
    ModelKnobs,
    TextFeatures,
    _fit_logistic,
    _give_back_memory,
    _held_out,
    example_text,
)

SHARED = Path(os.environ.get("PAPERBOT_SHARED", ROOT.parent / "shared"))
DAILY = SHARED / "data" / "corpus" / "daily-arxiv-ai-enhanced-2025-03_2026-07.jsonl.gz"
AMDS = SHARED / "data" / "corpus" / "amds123-arxiv-blog-posts-2015_2019.jsonl.gz"
N_CATALOG = 10_000
N_BACKGROUND = 20_000
N_OTHER = 2_000
C = ModelKnobs().c  # the relevance regression's inverse l2 strength
MAX_ITER = 500  # as `_fit_logistic`
LSA_DIMS = 64  # `TextFeatures.fit`'s default: the latent columns training uses
DEFAULT_TOL = 6  # as `_fit_logistic` (as 10**-n)
REPEAT = 3  # best of, for the short timings


# --- data --------------------------------------------------------------------------------


def read(path: Path, n: int) -> list[tuple[str, str]]:
    """(id, example text) of the first `n` records with a title and an abstract."""
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("abstract") and r.get("title"):
                out.append((r["id"], example_text(r["title"], r["abstract"])))
                if len(out) == n:
                    break
    return out


def corpus() -> tuple[list[str], list[str], list[str]]:
    """(keys, texts) of the 30,000 training records, and the 2,000 other texts."""
    catalog = read(AMDS, N_CATALOG)
    daily = read(DAILY, N_BACKGROUND + N_OTHER)
    train = catalog + daily[:N_BACKGROUND]
    return [k for k, _ in train], [t for _, t in train], [t for _, t in daily[N_BACKGROUND:]]


def labels(keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """y (the catalog first) and the sample weights `RelevanceModel.train` gives them."""
    n = len(keys)
    y = np.zeros(n, dtype=np.int8)
    y[:N_CATALOG] = 1
    neg_w = np.ones(n)
    held = [i for i in range(N_CATALOG, n) if _held_out(keys[i])]
    if len(held) >= MIN_HELD_OUT:
        neg_w[held] = 0.0
    neg_total = float(neg_w[y == 0].sum())
    weights = np.where(y == 1, neg_total / N_CATALOG, neg_w)
    return y, weights / weights[weights > 0].mean()


def vectorizer(max_features: int) -> Any:
    """scikit-learn's nearest equivalent of `TextFeatures` (tf-idf columns only)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        lowercase=True,
        token_pattern=_TOKEN_RE.pattern,
        stop_words="english",  # the list `feeds.relevance.stop_words` returns
        ngram_range=TextFeatures.NGRAM_RANGE,
        min_df=2,  # `TextFeatures.fit`'s default
        max_features=max_features,
        sublinear_tf=True,
        smooth_idf=True,
        norm="l2",
        dtype=np.float32,
    )


def sklearn_logistic(tol: int = DEFAULT_TOL) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, solver="lbfgs", max_iter=MAX_ITER, tol=10.0**-tol)


def warm_imports() -> None:
    """Load, before anything is measured, the modules either side loads on first use: an
    import is neither contender's cost (nor its memory)."""
    import scipy.optimize
    import sklearn.decomposition
    import sklearn.feature_extraction.text
    import sklearn.linear_model

    del scipy.optimize, sklearn.decomposition, sklearn.feature_extraction.text
    del sklearn.linear_model


# --- measuring ---------------------------------------------------------------------------


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def reset_peak() -> tuple[float, bool]:
    """Free what can be freed and restart the peak: (resident MB now, peak was reset)."""
    gc.collect()
    _give_back_memory()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets the peak resident size (VmHWM, ru_maxrss)
    except OSError:
        return maxrss_mb(), False  # the earlier peak stays: growth is a lower bound
    return rss_mb(), True


def measured(fn: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    """fn's result, and its seconds, peak growth (MB) and absolute peak."""
    base, exact = reset_peak()
    t = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t
    peak = maxrss_mb()
    return out, {
        "s": seconds,
        "mb": max(0.0, peak - base),
        "base": base,
        "peak": peak,
        "exact": exact,
    }


def best_of(fn: Callable[[], Any], repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


# --- the contenders (each in a child process) ---------------------------------------------


def child_vocab_hand(tmp: Path, lsa: int) -> dict[str, Any]:
    warm_imports()
    _, texts, other = corpus()
    features, fit = measured(lambda: TextFeatures.fit(texts, lsa_dims=lsa))
    rows, transform = measured(lambda: features.transform(texts))
    rows_other, other_m = measured(lambda: features.transform(other))
    other_m["s"] = best_of(lambda: features.transform(other))
    if lsa:  # the rows the regression is fitted on, and the features that score
        sp.save_npz(tmp / "rows.npz", rows, compressed=False)
        sp.save_npz(tmp / "rows_other.npz", rows_other, compressed=False)
        np.savez(
            tmp / "features.npz",
            idf=features.idf,
            lsa_columns=features.lsa_columns,
            lsa_components=features.lsa_components,
        )
    (tmp / f"vocabulary-hand-{lsa}.json").write_text(json.dumps(features.vocabulary))
    return {
        "fit": fit,
        "transform": transform,
        "other": other_m,
        "fit_and_rows": {
            "s": fit["s"] + transform["s"],
            "mb": max(fit["peak"], transform["peak"]) - fit["base"],
        },
        "n_terms": features.n_terms,
        "lsa_dims": features.lsa_dims,
        "nnz": int(rows.nnz),
    }


def child_vocab_sklearn(tmp: Path, max_features: int) -> dict[str, Any]:
    warm_imports()
    keys, texts, other = corpus()
    vec = vectorizer(max_features)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows, fit = measured(lambda: vec.fit_transform(texts))
        _, transform = measured(lambda: vec.transform(texts))
        _, other_m = measured(lambda: vec.transform(other))
        other_m["s"] = best_of(lambda: vec.transform(other))
        # the regression that scores the vectorizer's rows (for the scoring figure)
        y, weights = labels(keys)
        model = sklearn_logistic().fit(rows, y, sample_weight=weights)
    (tmp / "vocabulary-sklearn.json").write_text(json.dumps(vec.get_feature_names_out().tolist()))
    with open(tmp / "sklearn-pipeline.pickle", "wb") as f:
        pickle.dump((vec, model), f)
    return {
        "fit": fit,
        "transform": transform,
        "other": other_m,
        "fit_and_rows": fit,
        "n_terms": len(vec.vocabulary_),
        "nnz": int(rows.nnz),
        "warnings": sorted({str(w.message).splitlines()[0] for w in caught}),
    }


def child_logistic(tmp: Path, _arg: int) -> dict[str, Any]:
    """The model's regression (`_fit_logistic`) on the 30,000 rows, for the scoring figure."""
    warm_imports()
    keys, _, _ = corpus()
    y, weights = labels(keys)
    rows = sp.load_npz(tmp / "rows.npz").tocsr()
    (coef, intercept), fit = measured(lambda: _fit_logistic(rows, y, weights, C))
    np.save(tmp / "coef-model.npy", np.append(np.asarray(coef, np.float64), intercept))
    return {"fit": fit}


CHILDREN: dict[str, Callable[[Path, int], dict[str, Any]]] = {
    "vocab-hand": child_vocab_hand,
    "vocab-sklearn": child_vocab_sklearn,
    "logistic-model": child_logistic,
}


def run_child(tmp: Path, name: str, arg: int = 0) -> dict[str, Any] | None:
    """Run one contender in a fresh process; None (and its error shown) if it crashed."""
    out = tmp / f"{name}-{arg}.json"
    cmd = [sys.executable, __file__, "--child", name, "--arg", str(arg), "--tmp", str(tmp)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not out.exists():
        print(f"CRASHED: {name} (exit {done.returncode})", file=sys.stderr)
        print(done.stderr[-3000:], file=sys.stderr)
        return None
    return dict(json.loads(out.read_text()))


# --- report ------------------------------------------------------------------------------


def seconds(s: float) -> str:
    return f"{s:.2f} s" if s >= 0.1 else f"{s * 1000:.0f} ms"


def ratio(sk: float, hand: float) -> str:
    return f"{sk / hand:.1f}x" if hand > 0 else "n/a"


def figure(label: str, hand: dict[str, Any], sk: dict[str, Any], memory: bool = True) -> str:
    if not memory:
        return (
            f"{label}: hand-written {seconds(hand['s'])}; scikit-learn {seconds(sk['s'])}: "
            f"{ratio(sk['s'], hand['s'])} the time"
        )
    # below 1 MB the growth is page noise: ratios of it mean nothing
    mem_ratio = ratio(sk["mb"], hand["mb"]) if min(sk["mb"], hand["mb"]) >= 1 else "n/a"
    return (
        f"{label}: hand-written {seconds(hand['s'])}, {hand['mb']:.0f} MB; "
        f"scikit-learn {seconds(sk['s'])}, {sk['mb']:.0f} MB: "
        f"{ratio(sk['s'], hand['s'])} the time, {mem_ratio} the memory"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    ap.add_argument("--arg", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        result = CHILDREN[args.child](args.tmp, args.arg)
        (args.tmp / f"{args.child}-{args.arg}.json").write_text(json.dumps(result))
        return 0

    import scipy
    import sklearn

    started = time.perf_counter()
    print(
        f"hand-written numerics vs scikit-learn {sklearn.__version__} (numpy {np.__version__}, "
        f"scipy {scipy.__version__}), one core, each contender in a process of its own"
    )
    print(
        f"  texts: {N_CATALOG:,} catalog (2015-19 blog corpus) + {N_BACKGROUND:,} background "
        f"(2025-26 daily listings); {N_OTHER:,} other daily records scored"
    )
    _, _, other = corpus()
    crashed = False
    with tempfile.TemporaryDirectory(prefix="bench-numerics-") as name:
        tmp = Path(name)
        plain = run_child(tmp, "vocab-hand", 0)
        app = run_child(tmp, "vocab-hand", LSA_DIMS)
        n_terms = (app or plain or {}).get("n_terms", 60_000)
        sk = run_child(tmp, "vocab-sklearn", n_terms)
        crashed |= plain is None or app is None or sk is None

        print("\n1. vocabulary + tf-idf")
        if plain and sk:
            hand_vocab = json.loads((tmp / "vocabulary-hand-0.json").read_text())
            sk_vocab = json.loads((tmp / "vocabulary-sklearn.json").read_text())
            shared = len(set(hand_vocab) & set(sk_vocab))
            print(
                "  same: lowercase, token pattern, scikit-learn's English stop words (a bigram "
                "joins the words either side of one), 1-2 grams, min_df 2, smooth idf, "
                f"sublinear tf, l2 rows, float32, {n_terms:,} terms kept"
            )
            print(
                "  differs: TextFeatures keeps the terms in most texts, TfidfVectorizer the "
                "most frequent (total count); TextFeatures counts 2,000 texts at a time and "
                "drops grams seen in one text so far (min_df approximate; past "
                f"{3 * n_terms:,} grams, the rarest too); it adds "
                f"{LSA_DIMS} latent columns as training fits it. Vocabularies share "
                f"{shared:,} of {n_terms:,} terms; stored entries {plain['nnz']:,} vs "
                f"{sk['nnz']:,}"
            )
            for warned in sk["warnings"]:
                print(f"  scikit-learn warned: {warned}")
            for variant, hand in (("tf-idf only", plain), (f"+ {LSA_DIMS} latent columns", app)):
                if hand is None:
                    continue
                print(f"  hand-written {variant}:")
                n = N_CATALOG + N_BACKGROUND
                lines = [
                    (f"vocabulary+tf-idf fit {n:,} (fit / fit_transform)", "fit"),
                    (f"transform {n:,} (fitted)", "transform"),
                    (f"fit + rows {n:,} (fit, transform / fit_transform)", "fit_and_rows"),
                    (f"transform {N_OTHER:,} other (per poll, best of {REPEAT})", "other"),
                ]
                for label, key in lines:
                    print("    " + figure(label, hand[key], sk[key]))
            if not all(m["exact"] for m in (plain["fit"], sk["fit"])):
                print("  (peak could not be reset: memory growth is a lower bound)")
        else:
            print("  not measured: a contender crashed")

        lr = run_child(tmp, "logistic-model") if app else None
        crashed |= lr is None
        print("\n2. scoring")
        if app and sk and lr:
            arrays = np.load(tmp / "features.npz")
            vocab = json.loads((tmp / f"vocabulary-hand-{LSA_DIMS}.json").read_text())
            features = TextFeatures(
                vocab, arrays["idf"], arrays["lsa_columns"], arrays["lsa_components"]
            )
            params = np.load(tmp / "coef-model.npy")
            coef, intercept = params[:-1].astype(np.float32), float(params[-1])
            with open(tmp / "sklearn-pipeline.pickle", "rb") as f:
                vec, model = pickle.load(f)

            def hand_score() -> np.ndarray:
                return np.asarray(features.transform(other) @ coef) + intercept

            def sk_score() -> np.ndarray:
                return np.asarray(model.decision_function(vec.transform(other)))

            hand_score(), sk_score()  # warm up both
            print(
                "  "
                + figure(
                    f"score {N_OTHER:,} (transform + rows @ coef / transform + "
                    f"decision_function, best of {REPEAT})",
                    {"s": best_of(hand_score)},
                    {"s": best_of(sk_score)},
                    memory=False,
                )
            )
        else:
            print("  not measured: a contender crashed")
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    if crashed:
        print("a contender crashed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""arXiv side of paperbot: identifiers, fetching, parsing, matching and ranking."""

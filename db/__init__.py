"""Storage side of paperbot: the SQLite catalog and the awesome-list Markdown format."""

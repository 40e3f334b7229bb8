"""The Discord adapter: the only part of paperbot that imports discord."""

"""The command line: `assistant ask`, `chat`, `history`, `settings`, `doctor`."""

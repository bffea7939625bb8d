"""The user's documents: which files are text, reading them, chunking, and the store that owns the document tables."""

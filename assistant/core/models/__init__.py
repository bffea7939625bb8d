"""Getting models: the catalog, what this computer can run, downloads, importing and removing GGUF files."""

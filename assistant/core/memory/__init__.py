"""Long-term memory: what the user asked to remember, the embedder and vector index, and recall into a chat."""

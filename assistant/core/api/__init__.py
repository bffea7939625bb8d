"""The local OpenAI-compatible API server: requests, responses, its token."""

"""Running a chat model: the llama.cpp engine, a remote OpenAI-compatible one, context budgeting, stops, the engine thread."""

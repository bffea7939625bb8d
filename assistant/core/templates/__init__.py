"""Chat templates: the sandboxed Jinja that turns a conversation into a model's prompt."""

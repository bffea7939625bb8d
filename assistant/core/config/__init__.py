"""The user's settings: one pydantic model per section, saved atomically as settings.json."""

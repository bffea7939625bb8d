"""The assistant's core: engine, history, settings. Never imports Qt."""

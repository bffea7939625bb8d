"""The window's handles on the long-lived parts: the engine thread, push-to-talk, the API server."""

"""The Qt desktop UI. Everything Qt lives here; assistant.core never imports it."""

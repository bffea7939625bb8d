"""The quick prompt: a small frameless window for one question from the tray or a hotkey."""

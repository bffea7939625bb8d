"""The app around the window: tray, global hotkeys, one instance per data folder."""

"""User-facing errors: one line saying what went wrong, one saying what to do."""

from __future__ import annotations


class AssistantError(Exception):
    """An expected failure with a message fit to show a user as-is.

    ``hint`` is the next step ("run X", "pick another model"); callers print
    ``str(err)`` which combines both on one line.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip() if self.hint else self.message


class SettingsError(AssistantError):
    """The settings file is unreadable or holds an invalid value."""


class ModelError(AssistantError):
    """A model file is missing, damaged or unsupported."""


class ChatTemplateError(ModelError):
    """A model's chat template is invalid or was blocked by the sandbox."""


class ContextOverflowError(AssistantError):
    """Even the newest message alone does not fit in the context window."""


class HistoryError(AssistantError):
    """The history database cannot be opened, migrated or imported."""


class HistoryDamagedError(HistoryError):
    """The history database is damaged (or empty although it was in use)."""


class DiskFullError(AssistantError):
    """A write failed (or would fail) for lack of free space."""

"""User-facing errors: one line saying what went wrong, one saying what to do."""

from __future__ import annotations

import logging


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


def failure_text(e: BaseException, what: str, logger: logging.Logger) -> str:
    """The one line a user sees when background work fails: an ``AssistantError`` as it
    stands; anything else is a bug, logged with its traceback to ``logger`` and named
    after what failed ("The download failed: OSError: …"). The app stays up either way."""
    if isinstance(e, AssistantError):
        return str(e)
    logger.error("%s", what, exc_info=e)
    return f"{what}: {type(e).__name__}: {e}."

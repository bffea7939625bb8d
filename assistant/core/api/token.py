"""The API server's bearer token: made on first use, kept owner-only beside the
settings; ASSISTANT_API_TOKEN overrides it for scripted use."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from assistant.core.base.files import atomic_write
from assistant.core.base.paths import Paths

ENV = "ASSISTANT_API_TOKEN"
PREFIX = "sk-local-"  # looks like an API key to clients that check the shape


def env_token() -> str:
    """The token set by ASSISTANT_API_TOKEN, or ""."""
    return os.environ.get(ENV, "").strip()


def get_token(paths: Paths) -> str:
    """The token clients must send; generated and saved the first time."""
    env = env_token()
    if env:
        return env
    f = paths.api_token_file
    with contextlib.suppress(FileNotFoundError):
        token = f.read_text(encoding="utf-8").strip()
        if token:
            return token
    return regenerate_token(paths)


def regenerate_token(paths: Paths) -> str:
    """A new token; the old one stops working when the server next checks."""
    token = PREFIX + secrets.token_urlsafe(32)
    _write_private(paths.api_token_file, token)
    return token


def _write_private(f: Path, text: str) -> None:
    f.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(f, text + "\n")  # its temp file, and so the file, is the owner's only (0600)

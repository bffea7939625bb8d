"""Where user data lives.

``ASSISTANT_HOME`` puts every byte of user data under one folder (tests always
set it); otherwise the platform's usual data/config/cache folders are used.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "assistant"
HOME_ENV = "ASSISTANT_HOME"


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    cache_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def history_db(self) -> Path:
        return self.data_dir / "history.sqlite3"

    @property
    def backups_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def logs_dir(self) -> Path:
        return self.cache_dir / "logs"

    @property
    def api_token_file(self) -> Path:
        return self.config_dir / "api-token"

    @property
    def instance_socket(self) -> Path:
        """Where the running app listens for `assistant quick` and a second start.

        One per data folder (so a test's or a second profile's instance is its own),
        in the user's runtime dir, which only the user can enter.
        """
        digest = hashlib.sha1(str(self.data_dir).encode()).hexdigest()[:12]
        return runtime_dir() / f"instance-{digest}.sock"

    def ensure(self) -> Paths:
        for d in (self.config_dir, self.data_dir, self.cache_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self


def get_paths() -> Paths:
    home = os.environ.get(HOME_ENV)
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(config_dir=root / "config", data_dir=root / "data", cache_dir=root / "cache")
    return Paths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
    )


def runtime_dir() -> Path:
    """The user's runtime dir ($XDG_RUNTIME_DIR/assistant), created owner-only.

    Where there is none (root shells, macOS, Windows) a private folder in the temp
    dir stands in; either way a short path, as Unix sockets allow ~100 bytes.
    """
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and Path(base).is_dir():
        d = Path(base) / APP_NAME
    else:
        uid = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
        d = Path(tempfile.gettempdir()) / f"{APP_NAME}-{uid}"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    if hasattr(os, "getuid") and d.stat().st_uid != os.getuid():
        raise PermissionError(f"{d} belongs to another user")
    d.chmod(0o700)
    return d

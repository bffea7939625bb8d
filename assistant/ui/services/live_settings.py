"""The running app's settings: one object every view reads and saves through, kept in
step with the file when the CLI or an editor changes it."""

from __future__ import annotations

import logging

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from assistant.core.base.errors import AssistantError
from assistant.core.base.paths import Paths
from assistant.core.config.settings import Settings, load_settings, save_settings
from assistant.ui.common.message import Messages

log = logging.getLogger(__name__)

RELOAD_DELAY_MS = 300  # one reload for an atomic replace's several events


class LiveSettings(QObject):
    """`current` is what the app uses; `changed(new, old)` after every save or reload."""

    changed = Signal(object, object)  # new Settings, old Settings
    changed_on_disk = Signal(object, object)  # the same, when the file changed under us

    def __init__(self, paths: Paths, current: Settings, messages: Messages) -> None:
        super().__init__()
        self.paths, self.current, self._messages = paths, current, messages
        # `assistant settings set …` while the window runs: pick the change up, so the
        # window neither ignores it nor writes the old value back on its next save.
        paths.config_dir.mkdir(parents=True, exist_ok=True)
        self._watcher = QFileSystemWatcher([str(paths.config_dir)], self)
        self._reload = QTimer(self)
        self._reload.setSingleShot(True)
        self._reload.setInterval(RELOAD_DELAY_MS)
        self._watcher.directoryChanged.connect(lambda _path: self._reload.start())
        self._watcher.fileChanged.connect(lambda _path: self._reload.start())  # edited in place
        self._reload.timeout.connect(self.reload_from_disk)
        self._watch_file()

    def _watch_file(self) -> None:
        f = str(self.paths.settings_file)
        if self.paths.settings_file.exists() and f not in self._watcher.files():
            self._watcher.addPath(f)  # again after each atomic replace (a new inode)

    def reload_from_disk(self) -> None:
        """Take what the file says now (a broken file keeps the current settings)."""
        self._watch_file()
        try:
            new = load_settings(self.paths)
        except AssistantError as e:
            self._messages.info(f"{e} Keeping the current settings.", 15000)
            return
        if new == self.current:
            return
        old, self.current = self.current, new
        self._messages.hide_banner("settings")  # a file that was broken at start is fixed now
        self.changed.emit(new, old)
        self.changed_on_disk.emit(new, old)
        self._messages.info("Settings changed on disk: applied.", 5000)

    def save(self, new: Settings) -> bool:
        """Write and apply `new`; False (and one line to the user) when it cannot be saved."""
        try:
            save_settings(new, self.paths)
        except (OSError, AssistantError) as e:
            self._messages.info(f"Could not save settings: {e}", 10000)
            return False
        old, self.current = self.current, new
        self.changed.emit(new, old)
        return True

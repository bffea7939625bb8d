"""The window's settings, model and persona actions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QFileSystemWatcher, QTimer
from PySide6.QtWidgets import QFileDialog

from assistant.core.base import starter
from assistant.core.base.errors import AssistantError
from assistant.core.config.settings import (
    ModelSettings,
    Settings,
    load_settings,
    save_settings,
    use_local_model,
)
from assistant.core.engine.model_path import gguf_files
from assistant.ui.dialogs.settings_dialog import PersonaDialog, SettingsDialog

if TYPE_CHECKING:
    from assistant.ui.chat.main_window import MainWindow


class SettingsActions:
    def __init__(self, window: MainWindow) -> None:
        self.w = window
        # `assistant settings set …` while the window runs: pick the change up, so the
        # window neither ignores it nor writes the old value back on its next save.
        window.paths.config_dir.mkdir(parents=True, exist_ok=True)
        self._watcher = QFileSystemWatcher([str(window.paths.config_dir)], window)
        self._reload = QTimer(window)
        self._reload.setSingleShot(True)
        self._reload.setInterval(300)  # one reload for an atomic replace's several events
        self._watcher.directoryChanged.connect(lambda _path: self._reload.start())
        self._watcher.fileChanged.connect(lambda _path: self._reload.start())  # edited in place
        self._reload.timeout.connect(self.reload_from_disk)
        self._watch_file()

    def _watch_file(self) -> None:
        f = str(self.w.paths.settings_file)
        if self.w.paths.settings_file.exists() and f not in self._watcher.files():
            self._watcher.addPath(f)  # again after each atomic replace (a new inode)

    def reload_from_disk(self) -> None:
        w = self.w
        self._watch_file()
        try:
            new = load_settings(w.paths)
        except AssistantError as e:
            w.statusBar().showMessage(f"{e} Keeping the current settings.", 15000)
            return
        if new == w.settings:
            return
        reload_model = self.model_changed(w.settings, new)
        self._apply(new)
        w.hide_banner("settings")  # a file that was broken at start is fixed now
        if reload_model:
            self.reload_model(new)
        w.statusBar().showMessage("Settings changed on disk: applied.", 5000)

    def open_settings(self) -> None:
        w = self.w
        self.reload_from_disk()  # edit what is on disk, not an older copy
        local = w.model_info.get("architecture") != "remote"
        model_file = w.model_info.get("path") if local else None
        dlg = SettingsDialog(w.settings, w.model_info.get("recommended", {}), w, model_file)
        if not dlg.exec() or dlg.result_settings is None:
            return
        new = dlg.result_settings
        reload_model = self.model_changed(w.settings, new)
        self.save(new)
        if reload_model:
            self.reload_model(new)

    def model_changed(self, old: Settings, new: Settings) -> bool:
        """Whether the loaded model must reload: another model, or its own values changed
        (another model's per-model values do not count)."""
        loaded = self.w.model_info.get("path")
        if not loaded or self.w.model_info.get("architecture") == "remote":
            return new.model != old.model
        return new.model.for_file(loaded) != old.model.for_file(loaded)

    def reload_model(self, new: Settings) -> None:
        self.w.model_label.setText("Loading model…")
        self.w.model_info = {}
        self.w.engine.load(new)

    def model_refused(self, message: str, kept: ModelSettings) -> None:
        """The engine kept the working model: say why, and point the settings back at it."""
        w = self.w
        if kept != w.settings.model:
            self.save(w.settings.model_copy(update={"model": kept}))
        w.statusBar().showMessage(
            f"Kept {w.model_info.get('name', 'the current model')}: {' '.join(message.split())}",
            20000,
        )

    def fill_models_menu(self) -> None:
        """The starter model, GGUFs next to the current one, and a file chooser."""
        w = self.w
        menu = w.models_menu
        menu.clear()
        current = w.model_info.get("path")
        starter_path = starter.CHAT.path()
        choices: list[tuple[str, str | None]] = [(f"Starter: {starter.CHAT.name}", None)]
        folders = [w.paths.models_dir]  # downloaded and imported models
        if w.settings.model.path:
            folder = Path(w.settings.model.path).expanduser()
            folders.append(folder if folder.is_dir() else folder.parent)
        for folder in dict.fromkeys(folders):
            if folder.is_dir():
                choices += [(p.name, str(p)) for p in gguf_files(folder)]
        for label, path in choices:
            a = menu.addAction(label, lambda p=path: self.choose_model(p))
            a.setCheckable(True)
            a.setChecked(current == (path or (str(starter_path) if starter_path else None)))
        menu.addSeparator()
        menu.addAction("Get models…", self.open_models_window)
        menu.addAction("Choose a GGUF file…", self.browse_model)

    def open_models_window(self) -> None:
        from assistant.ui.dialogs.models_window import ModelsWindow

        dlg = ModelsWindow(self.w)
        dlg.show()
        self.models_window = dlg

    def browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Choose a model", "", "GGUF (*.gguf)")
        if path:
            self.choose_model(path)

    def choose_model(self, path: str | None) -> None:
        new, remote = use_local_model(self.w.settings, path)
        if new.model != self.w.settings.model:
            self.save(new)
            self.reload_model(new)
        if remote:
            self.w.statusBar().showMessage(
                f"No longer using the server at {remote}: answers come from this model.", 10000
            )

    def conversation_prompt(self) -> str:
        w = self.w
        if w.conversation_id is None:
            return w.settings.chat.system_prompt
        return w.store.get_conversation(w.conversation_id).system_prompt or ""

    def edit_persona(self) -> None:
        self.reload_from_disk()
        w = self.w
        dlg = PersonaDialog(self.conversation_prompt(), w.settings, w)
        if not dlg.exec():
            return
        if w.conversation_id is not None:
            w.store.update_conversation(w.conversation_id, touch=False, system_prompt=dlg.prompt())
        self.save(dlg.updated_settings())
        self.update_persona_button()

    def persona_name(self) -> str:
        prompt = self.conversation_prompt()
        match = next((p.name for p in self.w.settings.chat.personas if p.prompt == prompt), None)
        return match or ("none" if not prompt else "custom")

    def update_persona_button(self) -> None:
        self.w.persona_btn.setText(f"Persona: {self.persona_name()}")

    def save(self, new: Settings) -> None:
        w = self.w
        try:
            save_settings(new, w.paths)
        except (OSError, AssistantError) as e:
            w.statusBar().showMessage(f"Could not save settings: {e}", 10000)
            return
        self._apply(new)

    def _apply(self, new: Settings) -> None:
        w = self.w
        w.settings = new
        w.engine.request_settings.emit(new)
        w.settings_changed.emit(new)

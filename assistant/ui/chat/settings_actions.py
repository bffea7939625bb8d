"""The window's settings, model and persona actions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from assistant.core.base import starter
from assistant.core.base.types import ModelInfo
from assistant.core.config.settings import ModelSettings, Settings, use_local_model
from assistant.core.engine.model_path import gguf_files
from assistant.ui.dialogs.models_window import ModelsWindow
from assistant.ui.dialogs.settings_dialog import PersonaDialog, SettingsDialog
from assistant.ui.services.parts import AppServices


class SettingsActions(QObject):
    """Settings, persona and model choices for the window ``parent``; ``conversation_id``
    says which conversation the window shows (None: a new one)."""

    persona_named = Signal(str)  # "Persona: …" for the window's button

    def __init__(
        self,
        services: AppServices,
        parent: QWidget,
        conversation_id: Callable[[], int | None],
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self._paths, self._store = services.paths, services.store
        self._live, self._engine, self._messages = services.live, services.engine, services.messages
        self._conversation_id = conversation_id
        self.models_window: ModelsWindow | None = None
        # `assistant settings set …` while the window runs: a new model loads.
        self._live.changed_on_disk.connect(self._changed_on_disk)

    @property
    def _info(self) -> ModelInfo | None:
        return self._engine.model_info

    def _loaded_file(self) -> str | None:
        """The local GGUF in use; None for a server or while none is loaded."""
        info = self._info
        return info.path if info and not info.remote else None

    def _changed_on_disk(self, new: Settings, old: Settings) -> None:
        if self.model_changed(old, new):
            self._engine.load(new)

    def reload_from_disk(self) -> None:
        self._live.reload_from_disk()

    def open_settings(self) -> None:
        self.reload_from_disk()  # edit what is on disk, not an older copy
        model_file = self._loaded_file()
        current = self._live.current
        recommended = self._info.recommended if self._info else {}
        dlg = SettingsDialog(current, recommended, self._parent, model_file)
        if not dlg.exec() or dlg.result_settings is None:
            return
        new = dlg.result_settings
        reload_model = self.model_changed(current, new)
        if self.save(new) and reload_model:
            self._engine.load(new)

    def model_changed(self, old: Settings, new: Settings) -> bool:
        """Whether the loaded model must reload: another model, or its own values changed
        (another model's per-model values do not count)."""
        loaded = self._loaded_file()
        if not loaded:
            return new.model != old.model
        return new.model.for_file(loaded) != old.model.for_file(loaded)

    def model_refused(self, message: str, kept: ModelSettings) -> None:
        """The engine kept the working model: say why, and point the settings back at it."""
        current = self._live.current
        if kept != current.model:
            self.save(current.model_copy(update={"model": kept}))
        name = self._info.name if self._info else "the current model"
        # A banner, not the status line: the reason is often longer than the window is wide.
        self._messages.show_banner(f"Kept {name}. {' '.join(message.split())}", "model-choice")

    def fill_models_menu(self, menu: QMenu) -> None:
        """The starter model, GGUFs next to the current one, and a file chooser."""
        menu.clear()
        current = self._info.path if self._info else None
        starter_path = starter.CHAT.path()
        choices: list[tuple[str, str | None]] = [(f"Starter: {starter.CHAT.name}", None)]
        folders = [self._paths.models_dir]  # downloaded and imported models
        chosen = self._live.current.model.path
        if chosen:
            folder = Path(chosen).expanduser()
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
        dlg = ModelsWindow(self._paths, self._engine, self.choose_model, self._parent)
        dlg.show()
        self.models_window = dlg

    def browse_model(self) -> None:
        # Where models are: the folder of one the user chose before, else the models folder.
        chosen = self._live.current.model.path
        folder = Path(chosen).expanduser().parent if chosen else self._paths.models_dir
        path, _ = QFileDialog.getOpenFileName(
            self._parent, "Choose a model", str(folder), "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self.choose_model(path)

    def choose_model(self, path: str | None) -> None:
        current = self._live.current
        new, remote = use_local_model(current, path)
        if new.model != current.model and self.save(new):
            self._engine.load(new)
        if remote:
            self._messages.info(
                f"No longer using the server at {remote}: answers come from this model.", 10000
            )

    def conversation_prompt(self) -> str:
        cid = self._conversation_id()
        if cid is None:
            return self._live.current.chat.system_prompt
        return self._store.get_conversation(cid).system_prompt or ""

    def edit_persona(self) -> None:
        self.reload_from_disk()
        dlg = PersonaDialog(self.conversation_prompt(), self._live.current, self._parent)
        if not dlg.exec():
            return
        cid = self._conversation_id()
        if cid is not None:
            self._store.update_conversation(cid, touch=False, system_prompt=dlg.prompt())
        self.save(dlg.updated_settings())
        self.update_persona_button()

    def persona_name(self) -> str:
        prompt = self.conversation_prompt()
        personas = self._live.current.chat.personas
        match = next((p.name for p in personas if p.prompt == prompt), None)
        return match or ("none" if not prompt else "custom")

    def update_persona_button(self) -> None:
        self.persona_named.emit(f"Persona: {self.persona_name()}")

    def save(self, new: Settings) -> bool:
        return self._live.save(new)

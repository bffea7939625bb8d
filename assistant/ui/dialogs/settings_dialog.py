"""Settings and persona dialogs. Both write the core's validated Settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from assistant.core.config.settings import SAMPLING_FALLBACK, Persona, Settings


def _microphones() -> list[str]:
    from assistant.core.base.errors import AssistantError
    from assistant.core.voice.capture import input_devices

    try:
        return input_devices()
    except (AssistantError, OSError, RuntimeError):
        return []  # no PortAudio or no sound server: only "System default"


class SettingsDialog(QDialog):
    """Model and generation parameters; returns a new validated Settings."""

    def __init__(
        self,
        settings: Settings,
        recommended: dict[str, float] | None = None,
        parent: QWidget | None = None,
        model_file: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        rec = {**SAMPLING_FALLBACK, **(recommended or {})}
        self._settings = settings
        # The loaded model's file name: its own values are shown and can be saved for it.
        self._model_name = Path(model_file).name if model_file else None
        g = settings.generation
        m = settings.model.for_file(self._model_name) if self._model_name else settings.model
        form = QFormLayout()
        self.path = QLineEdit(m.path or "")
        self.path.setPlaceholderText("starter model")
        self.path.setAccessibleName("Model file")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form.addRow("Model (GGUF file or folder)", row)
        self.n_ctx = self._int(m.n_ctx, 256, 1_048_576, "Context length", step=256)
        form.addRow("Context length (tokens)", self.n_ctx)
        self.threads = self._int(m.n_threads or 0, 0, 1024, "Threads")
        self.threads.setSpecialValueText("automatic")
        self.threads.setToolTip(
            "Automatic: every core other programs leave free, adjusted while answering"
        )
        form.addRow("CPU threads", self.threads)
        self.gpu = self._int(m.n_gpu_layers, -1, 1000, "GPU layers")
        self.gpu.setSpecialValueText("all")
        form.addRow("GPU layers (needs a GPU build)", self.gpu)
        self.template = QLineEdit(m.chat_template or "")
        self.template.setPlaceholderText("from the model file")
        self.template.setAccessibleName("Chat template")
        self.template.setToolTip("'chatml', or Jinja template text; empty = the model's own")
        form.addRow("Chat template", self.template)
        self.own = QCheckBox(f"Only for {self._model_name}")
        self.own.setAccessibleName("Only for this model")
        self.own.setToolTip("Context, threads, GPU layers and template for this model alone")
        self.own.setChecked(self._model_name in settings.model.per_model)
        self.own.setVisible(self._model_name is not None)
        form.addRow("", self.own)
        self.temp_auto = QCheckBox("model's recommendation")
        self.temp = self._float(
            g.temperature if g.temperature is not None else rec["temperature"], 0, 2, "Temperature"
        )
        self.temp_auto.setChecked(g.temperature is None)
        self.temp_auto.toggled.connect(lambda on: self.temp.setEnabled(not on))
        self.temp.setEnabled(g.temperature is not None)
        form.addRow("Temperature", self._pair(self.temp, self.temp_auto))
        self.top_p_auto = QCheckBox("model's recommendation")
        self.top_p = self._float(g.top_p if g.top_p is not None else rec["top_p"], 0.01, 1, "Top-p")
        self.top_p_auto.setChecked(g.top_p is None)
        self.top_p_auto.toggled.connect(lambda on: self.top_p.setEnabled(not on))
        self.top_p.setEnabled(g.top_p is not None)
        form.addRow("Top-p", self._pair(self.top_p, self.top_p_auto))
        self.max_tokens = self._int(g.max_tokens, 1, 131_072, "Maximum answer length")
        form.addRow("Max tokens per answer", self.max_tokens)
        mem = settings.memory
        self.mem_enabled = self._check("Use memories, documents and past chats", mem.enabled)
        self.mem_extract = self._check("Offer to remember facts I mention", mem.extract)
        self.mem_auto = self._check("…and save them without asking", mem.auto_accept)
        self.mem_convs = self._check(
            "Recall snippets of other conversations", mem.recall_conversations
        )
        for box in (self.mem_enabled, self.mem_extract, self.mem_auto, self.mem_convs):
            form.addRow("Memory" if box is self.mem_enabled else "", box)
        voice = settings.voice
        self.mic = QComboBox()
        self.mic.setAccessibleName("Microphone")
        self.mic.addItem("System default", None)
        for name in _microphones():
            self.mic.addItem(name, name)
        if voice.input_device and self.mic.findData(voice.input_device) < 0:
            self.mic.addItem(f"{voice.input_device} (not found now)", voice.input_device)
        self.mic.setCurrentIndex(max(0, self.mic.findData(voice.input_device)))
        form.addRow("Microphone", self.mic)
        self.send_on_release = self._check("Send what I said at once", voice.send_on_release)
        form.addRow("", self.send_on_release)
        desk = settings.desktop
        self.close_to_tray = self._check(
            "Closing the window keeps it in the tray", desk.close_to_tray
        )
        form.addRow("Desktop", self.close_to_tray)
        self.quick_key = self._hotkey(desk.quick_prompt_hotkey, "Quick prompt hotkey")
        form.addRow("Quick prompt hotkey", self.quick_key)
        self.ptt_key = self._hotkey(desk.push_to_talk_hotkey, "Push-to-talk hotkey")
        form.addRow("Push-to-talk hotkey (hold)", self.ptt_key)
        self._api_rows(form, settings)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #c0392b")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(buttons)
        self.result_settings: Settings | None = None

    def _api_rows(self, form: QFormLayout, settings: Settings) -> None:
        api = settings.api
        self.api_on = self._check("Serve an OpenAI-compatible API on 127.0.0.1", api.enabled)
        self.api_on.setToolTip("Editors, scripts and agents on this computer can use the model")
        self.api_port = self._int(api.port, 1024, 65535, "API port")
        form.addRow("API server", self._pair(self.api_on, self.api_port))
        self.api_token = QLineEdit()
        self.api_token.setReadOnly(True)
        self.api_token.setAccessibleName("API key")
        self.api_token.setPlaceholderText("made when the server first starts")
        copy = QPushButton("Copy")
        copy.clicked.connect(lambda: QApplication.clipboard().setText(self.api_token.text()))
        new = QPushButton("New key")
        new.setToolTip("Programs using the old key must be given the new one")
        new.clicked.connect(lambda: self._new_token(confirm=True))
        row = QHBoxLayout()
        for widget in (self.api_token, copy, new):
            row.addWidget(widget, 1 if widget is self.api_token else 0)
        form.addRow("API key (bearer token)", row)
        self._show_token()

    def _show_token(self) -> None:
        from assistant.core.api.token import ENV, env_token, get_token
        from assistant.core.base.paths import get_paths

        paths = get_paths()
        if env_token() or paths.api_token_file.exists() or self.api_on.isChecked():
            self.api_token.setText(get_token(paths))
            self.api_token.setCursorPosition(0)  # its start ("sk-local-…") in view
        self.api_token.setToolTip(f"Set by {ENV}" if env_token() else "")

    def _new_token(self, confirm: bool = False) -> None:
        from assistant.core.api.token import regenerate_token
        from assistant.core.base.paths import get_paths

        if confirm and (
            QMessageBox.question(
                self,
                "New API key",
                "Programs using the current key stop working until they are given the new "
                "one. Make a new key now?",
            )
            != QMessageBox.StandardButton.Yes
        ):
            return
        regenerate_token(get_paths())  # takes effect at once, like the server's next check
        self._show_token()

    def _int(self, value: int, lo: int, hi: int, name: str, step: int = 1) -> QSpinBox:
        w = QSpinBox()
        w.setRange(lo, hi)
        w.setSingleStep(step)
        w.setValue(value)
        w.setAccessibleName(name)
        return w

    def _hotkey(self, value: str | None, name: str) -> QLineEdit:
        w = QLineEdit(value or "")
        w.setPlaceholderText("none (e.g. Ctrl+Alt+Space)")
        w.setAccessibleName(name)
        w.setToolTip("Works in every program. Empty turns it off.")
        return w

    def _check(self, text: str, on: bool) -> QCheckBox:
        box = QCheckBox(text)
        box.setChecked(on)
        box.setAccessibleName(text)
        return box

    def _float(self, value: float, lo: float, hi: float, name: str) -> QDoubleSpinBox:
        w = QDoubleSpinBox()
        w.setRange(lo, hi)
        w.setSingleStep(0.05)
        w.setDecimals(2)
        w.setValue(value)
        w.setAccessibleName(name)
        return w

    def _pair(self, a: QWidget, b: QWidget) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(a)
        row.addWidget(b)
        return box

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model", "", "GGUF models (*.gguf)")
        if path:
            self.path.setText(path)

    def _accept(self) -> None:
        from pydantic import ValidationError

        data = self._settings.model_dump()
        per_model = {
            "n_ctx": self.n_ctx.value(),
            "n_threads": self.threads.value() or None,
            "n_gpu_layers": self.gpu.value(),
            "chat_template": self.template.text().strip() or None,
        }
        data["model"]["path"] = self.path.text().strip() or None
        own = data["model"]["per_model"]
        if self._model_name and self.own.isChecked():
            # Only what differs: the rest keeps following the shared values.
            shared = self._settings.model
            own[self._model_name] = {k: v for k, v in per_model.items() if v != getattr(shared, k)}
        else:
            own.pop(self._model_name, None)
            data["model"].update(per_model)
        data["generation"].update(
            temperature=None if self.temp_auto.isChecked() else self.temp.value(),
            top_p=None if self.top_p_auto.isChecked() else self.top_p.value(),
            max_tokens=self.max_tokens.value(),
        )
        data["memory"].update(
            enabled=self.mem_enabled.isChecked(),
            extract=self.mem_extract.isChecked(),
            auto_accept=self.mem_auto.isChecked(),
            recall_conversations=self.mem_convs.isChecked(),
        )
        data["voice"].update(
            input_device=self.mic.currentData(), send_on_release=self.send_on_release.isChecked()
        )
        data["api"].update(enabled=self.api_on.isChecked(), port=self.api_port.value())
        data["desktop"].update(
            close_to_tray=self.close_to_tray.isChecked(),
            quick_prompt_hotkey=self.quick_key.text().strip() or None,
            push_to_talk_hotkey=self.ptt_key.text().strip() or None,
        )
        try:
            self.result_settings = Settings.model_validate(data)
        except ValidationError as e:
            first = e.errors()[0]
            key = ".".join(map(str, first["loc"]))
            fields = {
                "desktop.quick_prompt_hotkey": ("Quick prompt hotkey", self.quick_key),
                "desktop.push_to_talk_hotkey": ("Push-to-talk hotkey", self.ptt_key),
                "desktop": ("Hotkeys", self.ptt_key),
            }
            label, widget = fields.get(key, (key, None))
            self.error.setText(f"{label}: {str(first['msg']).removeprefix('Value error, ')}")
            if widget is not None:
                widget.setFocus()
                widget.selectAll()
            return
        self.accept()


class PersonaDialog(QDialog):
    """Edit this conversation's system prompt; optionally save it as a preset."""

    def __init__(self, prompt: str, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Persona")
        self.settings = settings
        self.presets = QComboBox()
        self.presets.addItem("Presets…")
        for p in settings.chat.personas:
            self.presets.addItem(p.name, p.prompt)
        self.presets.activated.connect(self._pick)
        self.text = QPlainTextEdit(prompt)
        self.text.setAccessibleName("System prompt")
        self.name = QLineEdit()
        self.name.setPlaceholderText("name, to save as a preset")
        self.default = QCheckBox("Use for new conversations")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.presets)
        lay.addWidget(QLabel("System prompt for this conversation:"))
        lay.addWidget(self.text, 1)
        lay.addWidget(self.name)
        lay.addWidget(self.default)
        lay.addWidget(buttons)

    def _pick(self, index: int) -> None:
        if index > 0:  # load a preset; saving it again is the user's choice
            self.text.setPlainText(self.presets.itemData(index))

    def prompt(self) -> str:
        return self.text.toPlainText().strip()

    def updated_settings(self) -> Settings:
        """Settings with the preset saved and/or made default, as the user chose."""
        s = self.settings.model_copy(deep=True)
        name = self.name.text().strip()
        if name:
            s.chat.personas = [p for p in s.chat.personas if p.name != name]
            s.chat.personas.append(Persona(name=name, prompt=self.prompt()))
        if self.default.isChecked():
            s.chat.system_prompt = self.prompt()
        return s

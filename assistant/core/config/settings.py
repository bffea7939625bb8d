"""One validated settings model, saved as JSON with a schema version."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from assistant.core.base.errors import SettingsError
from assistant.core.base.files import atomic_write
from assistant.core.base.paths import Paths, get_paths
from assistant.core.config.hotkey_spec import parse_hotkey

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful, friendly assistant running privately on the user's own computer. "
    "Answer clearly and concisely."
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _check_template(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    from assistant.core.templates.chat_template import check_override  # Jinja: only when one is set

    return check_override(text)


class ModelOverrides(_Section):
    """One model's own values; empty = the model section's value."""

    n_ctx: int | None = Field(None, ge=256, le=1_048_576, description="context window in tokens")
    n_threads: int | None = Field(None, ge=1, le=1024, description="CPU threads")
    n_gpu_layers: int | None = Field(None, ge=-1, description="layers on the GPU; -1 = all")
    chat_template: str | None = Field(None, description="'chatml' or Jinja template text")

    @field_validator("chat_template")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        return _check_template(v)


OVERRIDABLE = tuple(ModelOverrides.model_fields)


class ModelSettings(_Section):
    path: str | None = Field(
        None, description="GGUF file or a folder of them; empty means the bundled starter model"
    )
    n_ctx: int = Field(4096, ge=256, le=1_048_576, description="context window in tokens")
    n_threads: int | None = Field(
        None, ge=1, le=1024, description="CPU threads; empty = the cores other programs leave free"
    )
    n_batch: int = Field(512, ge=8, le=16384)
    n_gpu_layers: int = Field(
        -1,
        ge=-1,
        description="layers to offload to a GPU build; -1 = all (fewer, then the CPU, "
        "when they do not fit); 0 = CPU only",
    )
    chat_template: str | None = Field(
        None, description="override: 'chatml' or Jinja template text; empty = from the GGUF"
    )
    remote_url: str | None = Field(
        None,
        description="an OpenAI-compatible server (e.g. http://127.0.0.1:8080/v1) instead of "
        "a local model; empty = local",
    )
    remote_model: str | None = Field(None, description="the server's model id; empty = its first")
    remote_api_key: str | None = Field(
        None, description="bearer token for the server (or ASSISTANT_REMOTE_API_KEY)"
    )
    per_model: dict[str, ModelOverrides] = Field(
        default_factory=dict,
        description="by GGUF file name: that model's own context, threads, GPU layers, template",
    )

    def for_file(self, path: str | Path) -> ModelSettings:
        """The values that apply to one model file: its own where set, else these."""
        own = self.per_model.get(Path(path).name)
        update: dict[str, Any] = {"per_model": {}}
        if own is not None:
            update |= own.model_dump(exclude_none=True)
        return self.model_copy(update=update)

    @field_validator("chat_template")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        return _check_template(v)

    @field_validator("per_model")
    @classmethod
    def _file_names(cls, v: dict[str, ModelOverrides]) -> dict[str, ModelOverrides]:
        for name in v:
            if not name or Path(name).name != name:
                raise ValueError(f"'{name}' must be a model's file name, without a folder")
        return {k: o for k, o in v.items() if o.model_dump(exclude_none=True)}

    @field_validator("remote_url")
    @classmethod
    def _remote(cls, v: str | None) -> str | None:
        if v and not re.fullmatch(r"https?://\S+", v.strip()):
            raise ValueError("must start with http:// or https://")
        return v.strip() or None if v else None


# Used when neither the settings nor the model recommend a value.
SAMPLING_FALLBACK = {"temperature": 0.7, "top_p": 0.95}


class GenerationSettings(_Section):
    temperature: float | None = Field(
        None, ge=0.0, le=2.0, description="empty = the model's recommendation, else 0.7"
    )
    top_p: float | None = Field(
        None, gt=0.0, le=1.0, description="empty = the model's recommendation, else 0.95"
    )
    top_k: int = Field(40, ge=0)
    min_p: float = Field(0.05, ge=0.0, le=1.0)
    repeat_penalty: float = Field(1.1, ge=0.5, le=2.0)
    max_tokens: int = Field(1024, ge=1, le=131_072)
    seed: int | None = Field(None, description="fixed seed for repeatable answers; empty = random")
    stop: list[str] = Field(default_factory=list)

    def resolved(self, recommended: dict[str, float] | None = None) -> GenerationSettings:
        """Fill unset sampling values from the model's recommendation, then the fallback."""
        rec = recommended or {}
        updates = {
            k: rec.get(k, fallback)
            for k, fallback in SAMPLING_FALLBACK.items()
            if getattr(self, k) is None
        }
        return self.model_copy(update=updates) if updates else self


class Persona(_Section):
    name: str = Field(min_length=1, max_length=60)
    prompt: str


def _default_personas() -> list[Persona]:
    return [
        Persona(name="Assistant", prompt=DEFAULT_SYSTEM_PROMPT),
        Persona(name="Concise", prompt="Answer in as few words as possible. No preamble."),
        Persona(
            name="Programmer",
            prompt="You are an expert programmer. Answer with working code in fenced "
            "code blocks and explain briefly.",
        ),
    ]


class ChatSettings(_Section):
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, description="for new conversations")
    personas: list[Persona] = Field(default_factory=_default_personas)


class MemorySettings(_Section):
    enabled: bool = Field(True, description="recall memories, documents and past chats each turn")
    embedding_model: str | None = Field(
        None, description="sentence-transformers model folder or name; empty = bundled MiniLM"
    )
    chroma_url: str | None = Field(
        None, description="a Chroma server (http://host:port); empty = the index in the data folder"
    )
    recall_budget_tokens: int = Field(
        600, ge=0, le=32_768, description="most tokens of recalled material per turn"
    )
    extract: bool = Field(True, description="propose memories from what you tell the assistant")
    auto_accept: bool = Field(False, description="save proposed memories without asking")
    recall_conversations: bool = Field(True, description="recall snippets of past conversations")
    doc_max_mb: int = Field(50, ge=1, le=4096, description="skip documents larger than this")

    @field_validator("chroma_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v and not re.fullmatch(r"https?://[^/\s:]+(:\d+)?/?", v):
            raise ValueError("must look like http://host:port")
        return v or None


class VoiceSettings(_Section):
    model: str | None = Field(
        None, description="faster-whisper model folder (CTranslate2); empty = bundled tiny.en"
    )
    language: str | None = Field("en", description="spoken language code; empty = detect")
    device: str = Field("auto", pattern="^(auto|cpu|cuda)$", description="where to transcribe")
    input_device: str | None = Field(None, description="microphone name or index; empty = default")
    pre_roll_ms: int = Field(400, ge=0, le=2000, description="audio kept from before the key press")
    max_seconds: int = Field(120, ge=1, le=3600, description="longest recording")
    send_on_release: bool = Field(False, description="send the transcript at once")
    keep_microphone_open: bool = Field(
        True,
        description="open the microphone when the app starts, so the first press keeps its "
        "first words; off = opened at each press",
    )

    @field_validator("input_device", mode="before")
    @classmethod
    def _device(cls, v: object) -> object:
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)  # an index, as `settings set voice.input_device 3` gives it
        return v

    @field_validator("model", "language", "input_device")
    @classmethod
    def _empty_is_none(cls, v: str | None) -> str | None:
        return v.strip() or None if isinstance(v, str) else v


class DesktopSettings(_Section):
    tray: bool = Field(True, description="show an icon in the system tray")
    close_to_tray: bool = Field(True, description="closing the window keeps the app in the tray")
    notify: bool = Field(True, description="a notification when an answer ends while hidden")
    quick_prompt_hotkey: str | None = Field(
        "Ctrl+Alt+Space", description="global hotkey for the quick prompt; empty = none"
    )
    push_to_talk_hotkey: str | None = Field(
        "Ctrl+Alt+V", description="global hold-to-talk hotkey; empty = none"
    )

    @field_validator("quick_prompt_hotkey", "push_to_talk_hotkey")
    @classmethod
    def _hotkey(cls, v: str | None) -> str | None:
        if not v or not v.strip():
            return None
        return str(parse_hotkey(v))  # ValueError -> one clear settings message

    @model_validator(mode="after")
    def _distinct(self) -> DesktopSettings:
        if self.quick_prompt_hotkey and self.quick_prompt_hotkey == self.push_to_talk_hotkey:
            raise ValueError(
                f"the quick prompt and push-to-talk hotkeys are both {self.quick_prompt_hotkey}"
            )
        return self


class ApiSettings(_Section):
    enabled: bool = Field(
        False, description="serve an OpenAI-compatible API on 127.0.0.1 while the app runs"
    )
    port: int = Field(8765, ge=1024, le=65535, description="its port, on 127.0.0.1 only")


class Settings(_Section):
    schema_version: int = SCHEMA_VERSION
    model: ModelSettings = Field(default_factory=ModelSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    desktop: DesktopSettings = Field(default_factory=DesktopSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)


def _msg(error: Any) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


def _describe(err: ValidationError, path: Path) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"Unknown setting '{key}' in {path}."
    got = first.get("input")
    shown = json.dumps(got) if isinstance(got, str | int | float | bool | None) else "…"
    return f"Invalid setting '{key}' = {shown} in {path}: {_msg(first)}."


def _hint(path: Path) -> str:
    return f"Fix it in {path} or run `assistant settings reset`."


def load_settings(paths: Paths | None = None) -> Settings:
    """Read settings; a missing file gives defaults, a bad one a SettingsError."""
    paths = paths or get_paths()
    f = paths.settings_file
    if not f.exists():
        return Settings()
    try:
        raw = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsError(f"Cannot read {f}: {e}.", _hint(f)) from e
    except json.JSONDecodeError as e:
        raise SettingsError(
            f"{f} is not valid JSON (line {e.lineno}, column {e.colno}).", _hint(f)
        ) from e
    except RecursionError as e:  # thousands of nested brackets: not settings
        raise SettingsError(f"{f} is not valid settings (nested too deeply).", _hint(f)) from e
    if not isinstance(raw, dict):
        raise SettingsError(f"{f} must hold a JSON object.", _hint(f))
    version = raw.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise SettingsError(
            f"{f} was written by a newer version of the assistant (schema {version}).",
            "Update the assistant, or move the file away to start with defaults.",
        )
    try:
        return Settings.model_validate(raw)
    except ValidationError as e:
        raise SettingsError(_describe(e, f), _hint(f)) from e


def save_settings(settings: Settings, paths: Paths | None = None) -> Path:
    """Write atomically so a crash never leaves a half-written file."""
    paths = paths or get_paths()
    f = paths.settings_file
    f.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(f, json.dumps(settings.model_dump(mode="json"), indent=2) + "\n")
    return f


def use_local_model(settings: Settings, path: str | None) -> tuple[Settings, str | None]:
    """A copy with the local model ``path`` chosen (None: the starter). A server set in
    model.remote_url would answer instead, so it is cleared and returned, to be said."""
    new = settings.model_copy(deep=True)
    remote, new.model.remote_url = new.model.remote_url, None
    new.model.path = path
    return new, remote


def parse_value(text: str) -> Any:
    """Read a CLI value: JSON when it parses (numbers, null, lists), else a plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def set_value(settings: Settings, key: str, value: Any) -> Settings:
    """Return a copy of ``settings`` with dotted ``key`` set, validated."""
    data = settings.model_dump(mode="json")
    node: Any = data
    parts = key.split(".")
    for p in parts[:-1]:
        if not isinstance(node, dict) or p not in node:
            raise SettingsError(f"Unknown setting '{key}'.", "See `assistant settings show`.")
        node = node[p]
    if not isinstance(node, dict) or parts[-1] not in node or isinstance(node[parts[-1]], dict):
        raise SettingsError(f"Unknown setting '{key}'.", "See `assistant settings show`.")
    if key == "schema_version":
        raise SettingsError("'schema_version' is managed by the assistant.", "Leave it as it is.")
    old = node[parts[-1]]
    if value == "":  # "" clears an optional value, like null
        with contextlib.suppress(SettingsError):
            return set_value(settings, key, None)
    if isinstance(old, list) and isinstance(value, str):
        value = [value] if value else []  # `settings set generation.stop END`
    node[parts[-1]] = value
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        raise SettingsError(
            f"Invalid value {json.dumps(value)} for '{key}': {_msg(first)}.",
            "See `assistant settings show` for the current values.",
        ) from e

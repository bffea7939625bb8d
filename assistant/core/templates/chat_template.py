"""Chat templates from GGUF metadata, rendered in a locked-down Jinja sandbox.

A GGUF file is untrusted input: its template may try to reach Python
internals (blocked by Jinja's immutable sandbox) or to burn CPU and memory
(blocked by ``template_sandbox``: a time budget, loop-step and value-size caps).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from jinja2 import TemplateError
from jinja2.exceptions import SecurityError

from assistant.core.base.errors import ChatTemplateError
from assistant.core.templates.sandbox import (
    MAX_OUTPUT_CHARS,
    MAX_RANGE_ITEMS,
    TIME_BUDGET_S,
    Budget,
    LimitedSandbox,
)

log = logging.getLogger(__name__)

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
BUILTIN = {"chatml": CHATML}
FIX_HINT = (
    "Set the template to 'chatml': `assistant models settings FILE --chat-template chatml` "
    "(or model.chat_template for every model)."
)


def _raise_exception(message: str) -> None:
    raise ChatTemplateError(f"The model's chat template refused the conversation: {message}")


class ChatTemplate:
    """A compiled template plus the special tokens it may reference."""

    def __init__(
        self, source: str, bos_token: str = "", eos_token: str = "", name: str = ""
    ) -> None:
        self.source = source
        self.name = name or "template"
        self.bos_token = bos_token
        self.eos_token = eos_token
        self._budget = Budget()
        env = LimitedSandbox(
            self._budget,
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.loopcontrols"],
        )
        env.globals.update(
            raise_exception=_raise_exception,
            range=self._range,
            strftime_now=lambda fmt: dt.datetime.now().strftime(fmt),
        )
        env.filters["tojson"] = env.limit(_tojson)
        try:
            self._budget.start(TIME_BUDGET_S)
            self._template = env.from_string(source)
        except SecurityError as e:
            raise self._blocked(e) from e
        except TemplateError as e:
            raise ChatTemplateError(
                f"The chat template ({self.name}) is not valid Jinja: {str(e).rstrip('.')}.",
                FIX_HINT,
            ) from e
        except (RecursionError, MemoryError) as e:  # absurdly nested source
            raise ChatTemplateError(
                f"The chat template ({self.name}) is too deeply nested to compile.", FIX_HINT
            ) from e

    def _range(self, *args: int) -> range:
        r = range(*args)
        self._budget.range_items += len(r)
        if self._budget.range_items > MAX_RANGE_ITEMS:
            raise SecurityError("range budget exceeded")
        return r

    def _blocked(self, e: SecurityError) -> ChatTemplateError:
        hint = (
            FIX_HINT
            if self.name == "settings override"
            else f"Use a model from a trusted source. {FIX_HINT}"
        )
        reason = str(e).rstrip(".")
        return ChatTemplateError(f"Blocked an unsafe chat template ({self.name}): {reason}.", hint)

    def render(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
        self._budget.start(TIME_BUDGET_S)
        out: list[str] = []
        size = 0
        try:
            for piece in self._template.generate(
                messages=list(messages),
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                tools=None,
            ):
                size += len(piece)
                if size > MAX_OUTPUT_CHARS:
                    raise SecurityError("output too large")
                out.append(piece)
        except ChatTemplateError:
            raise
        except SecurityError as e:
            raise self._blocked(e) from e
        except RecursionError as e:  # a macro or recursive loop that calls itself forever
            raise self._blocked(SecurityError("it calls itself without end")) from e
        except Exception as e:  # a broken template is bad input, not a crash
            raise ChatTemplateError(
                f"The chat template ({self.name}) failed: {type(e).__name__}: {str(e).rstrip('.')}.",
                FIX_HINT,
            ) from e
        return "".join(out)


def _tojson(value: Any, indent: int | None = None) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, indent=indent)


def check_override(text: str | None) -> str | None:
    """A template given in settings, checked when it is saved rather than at the next
    load: a built-in name, or Jinja text that compiles and renders a short chat."""
    if text is None or not text.strip():
        return None
    key = text.strip().lower()
    if key in BUILTIN:
        return key
    if "{{" not in text and "{%" not in text:
        raise ValueError(
            f"'{text.strip()[:40]}' is not a chat template: give "
            f"{' or '.join(repr(b) for b in BUILTIN)}, or Jinja template text"
        )
    try:
        ChatTemplate(text, name="settings override").render([{"role": "user", "content": "hi"}])
    except ChatTemplateError as e:
        raise ValueError(e.message.rstrip(".")) from e
    return text


def resolve(override: str | None, from_gguf: str | None, bos: str, eos: str) -> ChatTemplate:
    """Pick the template: settings override, then the GGUF's, then ChatML."""
    if override:
        if override.strip().lower() in BUILTIN:
            key = override.strip().lower()
            return ChatTemplate(BUILTIN[key], bos, eos, name=f"built-in {key}")
        return ChatTemplate(override, bos, eos, name="settings override")
    if from_gguf:
        return ChatTemplate(from_gguf, bos, eos, name="from the model file")
    log.warning("model has no chat template; using ChatML")
    return ChatTemplate(CHATML, bos, eos, name="built-in chatml (model has none)")

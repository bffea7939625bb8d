"""Markdown to the HTML subset QTextBrowser shows, with Pygments highlighting.

Raw HTML in messages is escaped (``html: False``): model output and pasted
text are untrusted. Each fenced code block gets a "Copy code" link whose
``copy:N`` href indexes ``Rendered.code_blocks``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound


@dataclass(frozen=True)
class Rendered:
    html: str
    code_blocks: tuple[str, ...] = ()


@lru_cache(maxsize=2)
def _formatter(dark: bool) -> HtmlFormatter:
    return HtmlFormatter(nowrap=True, noclasses=True, style="monokai" if dark else "friendly")


def _lexer(lang: str) -> Any:
    try:
        return get_lexer_by_name(lang) if lang else TextLexer()
    except ClassNotFound:
        return TextLexer()


@lru_cache(maxsize=2)
def _parser(dark: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
    md.enable(["table", "strikethrough"])
    bg = "#272822" if dark else "#f4f5f7"
    muted = "#9a9a9a" if dark else "#6a6a6a"

    def fence(_renderer: Any, tokens: list, idx: int, options: Any, env: dict) -> str:
        tok = tokens[idx]
        blocks: list[str] = env["blocks"]
        lang = tok.info.strip().split(" ")[0] if tok.info else ""
        code = tok.content
        blocks.append(code)
        body = highlight(code, _lexer(lang), _formatter(dark)).rstrip("\n")
        label = html.escape(lang or "code")
        return (
            f'<table width="100%" cellspacing="0" cellpadding="8" bgcolor="{bg}">'
            f'<tr><td><span style="color:{muted}">{label}</span> &nbsp; '
            f'<a href="copy:{len(blocks) - 1}">Copy code</a>'
            f'<pre style="margin:4px 0 0 0">{body}</pre></td></tr></table>'
        )

    md.add_render_rule("fence", fence)
    md.add_render_rule("code_block", fence)
    return md


@lru_cache(maxsize=512)
def render(text: str, dark: bool = False) -> Rendered:
    """Cached: reopening a conversation does not parse and highlight it again."""
    env: dict[str, list[str]] = {"blocks": []}
    out = _parser(dark).render(text, env)
    return Rendered(out, tuple(env["blocks"]))


def warm_up() -> None:
    """Build the parser and load common lexers ahead of the first message (~60 ms).

    Called on a background thread at startup so the first answer does not pay it.
    """
    for dark in (False, True):
        _parser(dark).render("```python\nx = 1\n```\n\n| a |\n|---|\n| b |\n", {"blocks": []})


def plain(text: str) -> str:
    """Escaped text for messages the user typed: shown as written, no markup."""
    return "<p>" + html.escape(text).replace("\n", "<br>") + "</p>"

"""The window as the app builds it, for every UI test: ``make_window``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from assistant.core.base.paths import get_paths

LOAD_MS = 120_000  # the starter model, and the speech and embedding models beside it


@pytest.fixture
def make_window(qtbot: Any, assistant_home: Any) -> Iterator[Callable[..., Any]]:
    """``make_window(generation={"max_tokens": 16}, …)``: the real window over the real
    starter model, built by the composition root (``create_window``). Settings sections
    given are written first (none: the settings file stays as the test left it);
    ``wait_loaded`` waits for the model, ``show`` shows the window. Each is closed after
    the test, which stops its engine."""
    from assistant.ui.app import create_window

    made: list[Any] = []

    def make(*, show: bool = True, wait_loaded: bool = False, **sections: dict) -> Any:
        if sections:
            get_paths().ensure().settings_file.write_text(json.dumps(sections))
        w = create_window(None)
        qtbot.addWidget(w)
        made.append(w)
        if show:
            w.show()
        if wait_loaded:
            qtbot.waitUntil(lambda: bool(w.model_info), timeout=LOAD_MS)
        return w

    yield make
    for w in made:
        w.close()

"""Bad model files: each gives a one-line error with a next step, never a traceback."""

from __future__ import annotations

import shutil

import pytest

from assistant.core.base.errors import ModelError
from assistant.core.engine import gguf_file
from assistant.core.engine.model_path import resolve_model_path
from tests.helpers.gguf_factory import write_tiny_gguf


def _one_line(err: ModelError) -> str:
    msg = str(err)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def test_starter_model_header(starter_gguf):
    info = gguf_file.inspect(starter_gguf)
    assert info.architecture == "llama"
    assert info.quantization == "Q4_1"
    assert info.context_length == 8192
    assert info.expected_size == info.file_size
    assert "im_start" in (info.chat_template or "")


def test_missing_and_folder(tmp_path):
    with pytest.raises(ModelError, match="not found") as e:
        gguf_file.inspect(tmp_path / "nope.gguf")
    _one_line(e.value)
    with pytest.raises(ModelError, match="is a folder"):
        gguf_file.inspect(tmp_path)


def test_zero_byte(tmp_path):
    f = tmp_path / "empty.gguf"
    f.touch()
    with pytest.raises(ModelError, match="empty") as e:
        gguf_file.inspect(f)
    assert "Download it again" in _one_line(e.value)


@pytest.mark.parametrize(
    ("head", "says"),
    [
        (b"<!DOCTYPE html><html>404</html>", "web page"),
        (b"PK\x03\x04rest-of-zip", "zip archive"),
        (b"ggjt\x00\x00\x00\x03", "old GGML"),
        (b"\x00\x01\x02\x03 random bytes", "not a GGUF model"),
    ],
)
def test_not_gguf(tmp_path, head, says):
    f = tmp_path / "model.gguf"
    f.write_bytes(head + bytes(1000))
    with pytest.raises(ModelError, match=says) as e:
        gguf_file.inspect(f)
    _one_line(e.value)


@pytest.mark.parametrize("fraction", [0.0005, 0.01, 0.5, 0.999])
def test_truncated(tmp_path, starter_gguf, fraction):
    size = starter_gguf.stat().st_size
    f = tmp_path / "cut.gguf"
    with starter_gguf.open("rb") as src, f.open("wb") as dst:
        dst.write(src.read(int(size * fraction)))
    with pytest.raises(ModelError, match="truncated") as e:
        gguf_file.inspect(f)
    _one_line(e.value)


def test_resolve_folder_and_default(tmp_path, starter_gguf):
    assert resolve_model_path(None) == starter_gguf
    write_tiny_gguf(tmp_path / "b.gguf")
    shutil.copy(tmp_path / "b.gguf", tmp_path / "a-mmproj.gguf")
    (tmp_path / "0-broken.gguf").write_text("<html>not a model</html>")
    assert resolve_model_path(tmp_path).name == "b.gguf"  # broken one skipped
    (tmp_path / "b.gguf").write_bytes(b"")
    with pytest.raises(ModelError, match=r"None of the 2 \.gguf files"):
        resolve_model_path(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match=r"No \.gguf models"):
        resolve_model_path(empty)


def test_without_a_starter_model_a_bundle_says_how_to_get_one(monkeypatch):
    import sys

    from assistant.core.base import starter

    assert "make run" in starter.install_hint(starter.CHAT)  # a checkout
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # what PyInstaller sets
    hint = starter.install_hint(starter.CHAT)
    assert "Get models" in hint and "assistant models download" in hint
    assert "make" not in hint
    assert "voice.model" in starter.install_hint(starter.SPEECH)

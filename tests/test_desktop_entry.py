"""The desktop integration files: a valid freedesktop entry and AppStream
metainfo, icons in every size, and `make install-desktop` for the current user."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from PIL import Image

from tests.conftest import ROOT

APP_ID = "dev.assistant.Assistant"
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def test_icons_exist_in_every_size_and_match_the_svg():
    for size in SIZES:
        img = Image.open(ICONS / f"assistant-{size}.png")
        assert img.size == (size, size) and img.mode == "RGBA"
        # The bubble's blue at its centre-left, transparent in the bottom-right corner.
        assert img.getpixel((size // 8, size // 2))[:3] == (0x3B, 0x6E, 0xA5)
        assert img.getpixel((size - 1, size - 1))[3] == 0
    assert "<svg" in (ICONS / "assistant.svg").read_text()


def test_make_install_desktop_installs_a_valid_entry_icon_and_metainfo(tmp_path):
    for tool in ("desktop-file-validate", "appstreamcli"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: `make sysdeps` installs it")
    r = subprocess.run(
        ["make", "-s", "install-desktop", f"XDG_DATA_HOME={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    entry = tmp_path / "applications" / f"{APP_ID}.desktop"
    text = entry.read_text()
    bundle = ROOT / "dist" / "assistant" / "assistant"  # preferred once `make package` ran
    exe = bundle if bundle.exists() else ROOT / ".venv" / "bin" / "assistant"
    exe = exe.resolve()
    assert f'Exec="{exe}"\n' in text and f'Exec="{exe}" quick\n' in text
    assert f"TryExec={exe}\n" in text and exe.exists()
    v = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
    assert v.returncode == 0 and not v.stdout.strip(), v.stdout + v.stderr
    for size in SIZES:
        assert (
            tmp_path / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        ).exists()
    assert (tmp_path / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").exists()
    meta = tmp_path / "metainfo" / f"{APP_ID}.metainfo.xml"
    a = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(meta)], capture_output=True, text=True
    )
    assert a.returncode == 0, a.stdout + a.stderr


def test_the_app_names_the_same_desktop_entry():
    from assistant.ui.app import DESKTOP_ID

    assert DESKTOP_ID == APP_ID
    assert (PACKAGING / f"{APP_ID}.desktop.in").exists()


def test_a_path_with_spaces_and_quotes_is_escaped_as_the_spec_says(tmp_path):
    """Exec is a command line: a quoted path, with \\ " ` $ escaped (and those
    backslashes doubled by the file's string escaping)."""
    folder = tmp_path / 'My "Apps" $HOME'
    folder.mkdir()
    exe = folder / "assistant"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    data = tmp_path / "data"
    r = subprocess.run(
        ["bash", str(PACKAGING / "install-desktop.sh"), str(exe)],
        env={"PATH": "/usr/bin:/bin", "XDG_DATA_HOME": str(data)},
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    entry = data / "applications" / f"{APP_ID}.desktop"
    lines = entry.read_text().splitlines()
    want = f'Exec="{tmp_path}/My \\\\"Apps\\\\" \\\\$HOME/assistant"'
    assert want in lines and f"TryExec={exe}" in lines
    if shutil.which("desktop-file-validate"):
        v = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        assert v.returncode == 0, v.stdout

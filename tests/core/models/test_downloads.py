"""Model downloads against a local stand-in for the hub: progress, the final name
only when verified, resume after an interrupted download, a corrupted download
rejected, cancel, a full disk and a missing file."""

from __future__ import annotations

import hashlib
import os

import pytest

from assistant.core.base.types import CancelToken
from assistant.core.models.downloads import DownloadCancelled, DownloadError, download
from tests.helpers.fake_hub import FakeHub

REPO, FILE = "org/tiny-GGUF", "tiny-q4.gguf"
DATA = os.urandom(3 * 2**20 + 12345)


@pytest.fixture
def hub(monkeypatch):
    with FakeHub() as h:
        h.files[f"{REPO}/{FILE}"] = DATA
        monkeypatch.setenv("HF_ENDPOINT", h.url)
        yield h


@pytest.mark.parametrize("cdn", [False, True], ids=["direct", "via-cdn-redirect"])
def test_download_with_progress_appears_only_when_complete(hub, tmp_path, cdn):
    hub.cdn = cdn
    seen: list[tuple[int, int]] = []
    final = tmp_path / FILE

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        assert not final.exists(), "the final name appears only once verified"

    path = download(REPO, FILE, tmp_path, progress=progress)
    assert path == final and path.read_bytes() == DATA
    assert seen[-1] == (len(DATA), len(DATA)) and len(seen) > 2
    assert not (tmp_path / f"{FILE}.part").exists()


def test_an_interrupted_download_resumes(hub, tmp_path):
    hub.cut_after = 1_500_000
    with pytest.raises(DownloadError, match="resumes where it stopped"):
        download(REPO, FILE, tmp_path)
    part = tmp_path / f"{FILE}.part"
    kept = part.stat().st_size
    assert 0 < kept < len(DATA) and not (tmp_path / FILE).exists()
    path = download(REPO, FILE, tmp_path)
    assert hub.ranges[-1] == f"bytes={kept}-", "only the missing bytes are fetched"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(DATA).hexdigest()


def test_a_corrupted_download_is_rejected_and_deleted(hub, tmp_path):
    hub.corrupt = True
    hub.cdn = True  # the hash comes from the hub's redirect, the bytes from the "CDN"
    with pytest.raises(DownloadError, match="is damaged: its sha256 does not match the hub's"):
        download(REPO, FILE, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_pinned_hash_is_checked_too(hub, tmp_path):
    with pytest.raises(DownloadError, match="does not match the catalog's"):
        download(REPO, FILE, tmp_path, pinned_sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_cancel_keeps_the_part_for_later(hub, tmp_path):
    token = CancelToken()
    with pytest.raises(DownloadCancelled, match="resume"):
        download(REPO, FILE, tmp_path, cancel=token, progress=lambda d, t: token.cancel())
    assert (tmp_path / f"{FILE}.part").exists() and not (tmp_path / FILE).exists()
    assert download(REPO, FILE, tmp_path).read_bytes() == DATA


def test_a_full_disk_and_a_missing_file_are_clear_errors(hub, tmp_path, monkeypatch):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    # The disk itself cannot be filled safely here: report 1 MB free instead.
    monkeypatch.setattr(
        "assistant.core.base.files.shutil.disk_usage",
        lambda _p: type(usage)(usage.total, usage.total - 2**20, 2**20),
    )
    with pytest.raises(DownloadError, match="Not enough disk space"):
        download(REPO, FILE, tmp_path)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    with pytest.raises(DownloadError, match="not available on the hub \\(HTTP 404\\)"):
        download(REPO, "missing.gguf", tmp_path)


def test_cli_download_with_progress_then_chat_with_it(starter_gguf, monkeypatch):
    """A catalog entry served by the stand-in hub (its bytes are the starter model's):
    downloaded with progress, verified, made the chat model, and answering."""
    import json

    from tests.conftest import run_cli

    with FakeHub() as h:
        h.cdn = True
        h.files["Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf"] = (
            starter_gguf.read_bytes()
        )
        env = {"HF_ENDPOINT": h.url}
        h.cut_after = 30 * 2**20  # the connection drops part-way, once
        r = run_cli("models", "download", "qwen2.5-0.5b-instruct-q4_k_m", env=env)
        assert r.returncode == 1 and "\nerror: " in r.stderr  # on its own line
        r = run_cli("models", "download", "qwen2.5-0.5b-instruct-q4_k_m", "--use", env=env)
        assert r.returncode == 0, r.stderr
        assert r.stderr.startswith("Resuming after 30 MB.")
        assert "100%" in r.stderr and "Downloaded and verified" in r.stdout
        assert h.ranges[-1] == f"bytes={30 * 2**20}-"
        again = run_cli("models", "download", "qwen2.5-0.5b-instruct-q4_k_m", env=env)
        assert again.returncode == 0 and again.stdout.startswith("Already here:")
        missing = run_cli("models", "download", "no-such-model", env=env)
        assert missing.returncode == 1 and "No model 'no-such-model'" in missing.stderr
    listed = json.loads(run_cli("models", "list", "--json").stdout)
    (ours,) = [m for m in listed if m["in_use"]]
    assert ours["path"].endswith("qwen2.5-0.5b-instruct-q4_k_m.gguf")
    answer = run_cli("ask", "What is the capital of France?", "--json")
    assert answer.returncode == 0, answer.stderr
    out = json.loads(answer.stdout)
    assert out["model"] == "qwen2.5-0.5b-instruct-q4_k_m" and out["answer"].strip()

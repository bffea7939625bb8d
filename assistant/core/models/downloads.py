"""Model downloads from the Hugging Face hub (or a mirror via HF_ENDPOINT).

huggingface_hub finds the file and its metadata: size, and for LFS files the
sha256 the hub computed (its "linked etag"). The bytes are streamed into
``NAME.part`` beside the final file with a Range request that resumes an
interrupted download; the sha256 is computed as they arrive and checked against
the hub's and, where the catalog pins one, the catalog's. Only a verified file
is renamed to its final name, so a half-written model never looks usable.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from assistant.core.base.errors import AssistantError
from assistant.core.base.files import free_bytes, size_text
from assistant.core.base.types import CancelToken

log = logging.getLogger(__name__)

CHUNK = 1 << 20
DISK_MARGIN = 200 * 2**20  # leave this much free after the download
SHA256_HEX = 64


class DownloadError(AssistantError):
    """The hub is unreachable, the file is missing or damaged, or the disk is full."""


class DownloadCancelled(AssistantError):
    """Stopped by the user; the partial file is kept for resuming."""


@dataclass(frozen=True)
class Remote:
    url: str
    size: int
    sha256: str | None  # the hub's LFS hash; None for small non-LFS files
    commit: str | None


def remote_file(repo: str, filename: str, revision: str = "main") -> Remote:
    """Size and hash from a HEAD on the hub's resolve URL.

    huggingface_hub builds the URL and names the headers; the request itself is
    ours because huggingface_hub obeys HF_HUB_OFFLINE, which this app sets so that
    nothing else ever downloads at run time, while a download is asked for.
    """
    import httpx
    from huggingface_hub import constants, hf_hub_url

    endpoint = os.environ.get("HF_ENDPOINT") or None
    url = hf_hub_url(repo, filename, revision=revision, endpoint=endpoint)
    linked = constants.HUGGINGFACE_HEADER_X_LINKED_ETAG
    try:
        for _ in range(5):
            # The hub answers an LFS file with a redirect to its CDN that carries the
            # hash and size itself: read them there, download from the CDN.
            r = httpx.head(url, timeout=20, headers={"Accept-Encoding": "identity"})
            if not r.is_redirect:
                break
            url = urljoin(url, r.headers["Location"])
            if linked in r.headers:
                break
    except httpx.HTTPError as e:
        raise DownloadError(
            f"Cannot reach the model hub ({type(e).__name__}).",
            "Check the network connection (downloads are the only thing that needs it).",
        ) from e
    if r.status_code in (401, 403, 404):
        raise DownloadError(
            f"{repo}/{filename} is not available on the hub (HTTP {r.status_code}).",
            "The model may have moved or need a login; pick another from the catalog.",
        )
    if r.status_code != 200 and not r.is_redirect:
        raise DownloadError(f"The hub answered HTTP {r.status_code}.", "Try again later.")
    h = r.headers
    etag = (h.get(linked) or "").strip('"').lower()
    sha = etag if len(etag) == SHA256_HEX and all(c in "0123456789abcdef" for c in etag) else None
    size = h.get(constants.HUGGINGFACE_HEADER_X_LINKED_SIZE) or (
        None if r.is_redirect else h.get("Content-Length")
    )
    if not size or not size.isdigit():
        raise DownloadError(f"The hub did not say how big {filename} is.", "Try again later.")
    return Remote(url, int(size), sha, h.get(constants.HUGGINGFACE_HEADER_X_REPO_COMMIT))


def download(
    repo: str,
    filename: str,
    dest_dir: Path,
    *,
    pinned_sha256: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Fetch ``filename`` into ``dest_dir``; resumes a ``.part`` file if there is one."""
    import httpx

    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / filename
    remote = remote_file(repo, filename)
    if final.exists() and final.stat().st_size == remote.size:
        return final
    part = final.with_name(final.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    if have > remote.size:
        part.unlink()
        have = 0
    _check_disk(dest_dir, remote.size - have)
    digest = hashlib.sha256()
    if have:
        with part.open("rb") as f:  # the hash must cover the bytes already here
            for block in iter(lambda: f.read(CHUNK), b""):
                digest.update(block)
        log.info("resuming %s at %d of %d bytes", filename, have, remote.size)
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with httpx.stream(
            "GET", remote.url, headers=headers, follow_redirects=True, timeout=30
        ) as r:
            if r.status_code == 200 and have:
                have, digest = 0, hashlib.sha256()  # the server ignored Range: start over
                part.unlink(missing_ok=True)
            elif r.status_code not in (200, 206):
                raise DownloadError(f"The hub answered HTTP {r.status_code} for {filename}.")
            with part.open("ab") as out:
                for block in r.iter_bytes(CHUNK):
                    if cancel is not None and cancel.cancelled:
                        raise DownloadCancelled(
                            f"Download of {filename} stopped at {have * 100 // remote.size}%.",
                            "Run the same download again to resume.",
                        )
                    out.write(block)
                    digest.update(block)
                    have += len(block)
                    if progress is not None:
                        progress(have, remote.size)
                out.flush()
                os.fsync(out.fileno())
    except httpx.HTTPError as e:
        raise DownloadError(
            f"The download of {filename} was interrupted at {have * 100 // remote.size}% "
            f"({type(e).__name__}).",
            "Run the same download again: it resumes where it stopped.",
        ) from e
    if have != remote.size:
        raise DownloadError(
            f"The download of {filename} ended early ({have} of {remote.size} bytes).",
            "Run the same download again: it resumes where it stopped.",
        )
    got = digest.hexdigest()
    for source, want in (("the hub", remote.sha256), ("the catalog", pinned_sha256)):
        if want and got != want.lower():
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"{filename} is damaged: its sha256 does not match {source}'s "
                f"({got[:12]}… instead of {want[:12]}…). The file was deleted.",
                "Download it again; if it keeps failing, the mirror serves a bad copy.",
            )
    os.replace(part, final)
    log.info("downloaded %s (%d bytes, sha256 %s)", final, have, got)
    return final


def _check_disk(folder: Path, needed: int) -> None:
    free = free_bytes(folder)
    if free is not None and needed + DISK_MARGIN > free:
        raise DownloadError(
            f"Not enough disk space: the download needs {size_text(needed)} and "
            f"{size_text(free)} is free in {folder}.",
            "Free some space, or pick a smaller model.",
        )

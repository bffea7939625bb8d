"""A stand-in for the Hugging Face hub on 127.0.0.1 (HF_ENDPOINT points at it):
HEAD and GET on /{repo}/resolve/{revision}/{file} with the hub's metadata
headers and Range requests. It can cut a download short, or serve bytes that do
not match the hash it reports."""

from __future__ import annotations

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeHub:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}  # "org/repo/file" -> content
        self.cut_after: int | None = None  # close the connection after this many bytes, once
        self.corrupt = False  # serve flipped bytes, report the real hash
        self.ranges: list[str | None] = []  # Range headers of GET requests
        self.cdn = False  # answer like the real hub: a redirect to a CDN for the bytes
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                pass

            def _file(self) -> bytes | None:
                m = re.fullmatch(r"/(cdn/)?([^/]+/[^/]+)/resolve/[^/]+/(.+)", self.path)
                return hub.files.get(f"{m.group(2)}/{m.group(3)}") if m else None

            def _to_cdn(self, data: bytes) -> bool:
                if not hub.cdn or self.path.startswith("/cdn/"):
                    return False
                self.send_response(302)
                self._head(data)
                self.send_header("Location", "/cdn" + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True

            def _head(self, data: bytes) -> None:
                self.send_header("X-Repo-Commit", "0" * 40)
                self.send_header("X-Linked-Etag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("ETag", '"not-the-sha"')
                self.send_header("Accept-Ranges", "bytes")

            def _served(self) -> bytes | None:
                """The file's bytes, or None once a 404 or a CDN redirect was sent."""
                data = self._file()
                if data is None:
                    self.send_error(404)
                    return None
                return None if self._to_cdn(data) else data

            def do_HEAD(self) -> None:
                data = self._served()
                if data is None:
                    return
                self.send_response(200)
                if not self.path.startswith("/cdn/"):
                    self._head(data)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()

            def do_GET(self) -> None:
                data = self._served()
                if data is None:
                    return
                rng = self.headers.get("Range")
                hub.ranges.append(rng)
                start = int(re.match(r"bytes=(\d+)-", rng).group(1)) if rng else 0
                body = data[start:]
                if hub.corrupt:
                    body = bytes(b ^ 0xFF for b in body[:64]) + body[64:]
                self.send_response(206 if rng else 200)
                self._head(data)
                self.send_header("Content-Length", str(len(body)))
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if hub.cut_after is not None:
                    cut, hub.cut_after = hub.cut_after, None
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # a dropped connection mid-file
                    return
                try:
                    for i in range(0, len(body), 65536):
                        self.wfile.write(body[i : i + 65536])
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client cancelled: what a real hub sees too

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()

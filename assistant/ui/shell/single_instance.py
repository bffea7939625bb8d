"""One running app per data folder; later starts hand their request to it.

The running app listens on a local socket (a Unix socket in the user's runtime
dir, owner-only; a named pipe on Windows). A second `assistant`, `assistant
quick TEXT` or `assistant ptt` connects, writes one JSON line and reads one
back. A socket file left by a killed instance is noticed (nobody answers) and
replaced; a lock file keeps two simultaneous starts from both listening.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

TIMEOUT_MS = 3000
MAX_MESSAGE = 1_000_000  # bytes: a quick prompt with pasted context, not a file


def send(path: Path, message: dict, timeout_ms: int = TIMEOUT_MS) -> dict | None:
    """Deliver ``message`` to the running instance; None when there is none."""
    sock = QLocalSocket()
    sock.connectToServer(str(path))
    if not sock.waitForConnected(timeout_ms):
        return None
    sock.write(json.dumps(message).encode() + b"\n")
    sock.flush()
    data = b""
    while b"\n" not in data and sock.waitForReadyRead(timeout_ms):
        data += bytes(sock.readAll().data())
    sock.disconnectFromServer()
    try:
        reply = json.loads(data.decode() or "null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        reply = None
    return reply if isinstance(reply, dict) else {"ok": True}


class InstanceServer(QObject):
    """Listens for requests; ``received`` carries each one to the GUI thread."""

    received = Signal(dict)

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def claim(self, message: dict | None = None) -> dict | None:
        """Become the instance, or hand ``message`` to the one already running.

        Returns None when this process is now the instance, else the other's reply.
        """
        lock = QLockFile(str(self.path) + ".lock")
        lock.setStaleLockTime(0)  # a dead holder's lock is taken over at once
        if not lock.tryLock(10_000):
            log.warning("instance lock busy; starting anyway")
        try:
            reply = send(self.path, message or {"cmd": "show"}, 1000)
            if reply is not None:
                return reply
            QLocalServer.removeServer(str(self.path))  # a killed instance's leftover
            if not self._server.listen(str(self.path)):
                log.warning("cannot listen on %s: %s", self.path, self._server.errorString())
            else:
                log.info("listening on %s", self.path)
            return None
        finally:
            lock.unlock()

    @property
    def listening(self) -> bool:
        return self._server.isListening()

    def close(self) -> None:
        if self._server.isListening():
            self._server.close()
            QLocalServer.removeServer(str(self.path))

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            sock = self._server.nextPendingConnection()
            self._buffers[sock] = b""
            sock.readyRead.connect(lambda s=sock: self._read(s))
            sock.disconnected.connect(lambda s=sock: self._drop(s))

    def _drop(self, sock: QLocalSocket) -> None:
        self._buffers.pop(sock, None)
        sock.deleteLater()

    def _read(self, sock: QLocalSocket) -> None:
        data = self._buffers.get(sock, b"") + bytes(sock.readAll().data())
        if len(data) > MAX_MESSAGE:
            self._reply(sock, {"ok": False, "error": "request too large"})
            return
        if b"\n" not in data:
            self._buffers[sock] = data
            return
        line = data.split(b"\n", 1)[0]
        try:
            message = json.loads(line.decode())
            if not isinstance(message, dict) or not isinstance(message.get("cmd"), str):
                raise ValueError("not a command")
        except (UnicodeDecodeError, ValueError) as e:
            self._reply(sock, {"ok": False, "error": f"bad request: {e}"})
            return
        log.info("request from another start: %s", message.get("cmd"))
        self._reply(sock, {"ok": True})
        self.received.emit(message)

    def _reply(self, sock: QLocalSocket, reply: dict) -> None:
        self._buffers[sock] = b""
        sock.write(json.dumps(reply).encode() + b"\n")
        sock.flush()
        sock.disconnectFromServer()

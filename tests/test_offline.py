"""The suite runs offline: outbound connections fail, loopback works."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest


def test_outbound_connection_is_refused_in_process():
    with pytest.raises(OSError):
        socket.create_connection(("1.1.1.1", 443), timeout=2)


def test_loopback_still_works():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    with socket.create_connection(srv.getsockname(), timeout=2):
        pass
    srv.close()


@pytest.mark.skipif(
    os.environ.get("ASSISTANT_NETWORK_ISOLATED") != "1",
    reason="runs only inside the network namespace that `make test` sets up",
)
def test_subprocesses_have_no_route_out():
    code = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 443), timeout=3)\n"
        "    print('connected')\n"
        "except OSError:\n"
        "    print('blocked')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "blocked"

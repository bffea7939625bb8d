"""A full disk: reading still works, writing says so in one line and leaves nothing half-made.

The data folder lives on a small tmpfs, mounted in a mount namespace of the test's
own (so it needs no mount on the machine), and is filled to the last byte.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

DRIVER = ROOT / "tests" / "helpers" / "disk_full_driver.py"


def _private_mounts() -> list[str]:
    for ns in (["unshare", "-m"], ["unshare", "-rm"]):
        probe = [*ns, "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=1m t $d && umount $d"]
        if shutil.which("unshare") and subprocess.run(probe, capture_output=True).returncode == 0:
            return ns
    pytest.skip("cannot mount a tmpfs in a mount namespace here")


@pytest.mark.slow
def test_a_full_disk_is_one_line_reading_works_and_nothing_is_half_made(tmp_path, assistant_home):
    ns = _private_mounts()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    out = tmp_path / "results.json"
    script = 'mount -t tmpfs -o size=24m,mode=700 tmpfs "$1" && exec "$2" "$3" "$1" "$4" "$5"'
    r = subprocess.run(
        [
            *ns,
            "sh",
            "-c",
            script,
            "sh",
            str(mnt),
            sys.executable,
            str(DRIVER),
            str(out),
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    results = json.loads(out.read_text())
    problems = [f"{name}: {why}" for name, why in results if why]
    assert not problems, "\n".join(problems)
    assert len(results) >= 15

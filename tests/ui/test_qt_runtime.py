"""The installed Qt binding must not corrupt reference counts.

PySide6 6.12.0 on Python 3.11 drops a reference to a slot's return value (and
to bools it passes), so a long-running window aborts with "deallocating None".
Run in a subprocess: a broken binding crashes the interpreter, not the suite.
"""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

app = QCoreApplication([])

class E(QObject):
    s = Signal(int, str)
    b = Signal(bool)

e = E()
n = [0]
def slot(*args):
    n[0] += 1

def counts():
    return [sys.getrefcount(x) for x in (None, True, False)]

before = counts()
t = QTimer()
t.setInterval(0)
t.timeout.connect(slot)
t.start()
while n[0] < 3000:
    app.processEvents()
t.stop()
e.s.connect(slot)
e.b.connect(slot)
for i in range(3000):
    e.s.emit(i, "x")
    e.b.emit(i % 2 == 0)
after = counts()
drift = [a - b for a, b in zip(after, before)]
print("drift", drift)
assert all(abs(d) < 100 for d in drift), drift
"""


def test_slots_do_not_leak_or_steal_references():
    r = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]

"""Backups in normal use, damage found at open, and the way back to a good copy."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path

import pytest

from assistant.core.history import backups
from assistant.core.history.faults import check_sqlite
from assistant.core.history.store import HistoryStore
from tests.conftest import run_cli


def _db(home: Path) -> Path:
    return home / "data" / "history.sqlite3"


def _one_line_error(r, *words: str) -> str:
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr[-2000:])
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def used(assistant_home: Path) -> Path:
    """A profile in use: a memory and a conversation, and the backup that use made."""
    assert run_cli("memory", "add", "My dog is called Biscuit").returncode == 0
    assert run_cli("ask", "Say one word about rain").returncode == 0
    found = backups.list_backups(assistant_home / "data" / "backups")
    assert [b.reason for b in found] == ["daily"], found
    assert check_sqlite(found[0].path) == "ok"
    return assistant_home


def test_backups_come_at_most_hourly_are_verified_and_pruned(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3", tmp_path / "backups")
    assert store.backup_if_due() is None  # nothing to keep yet
    conv = store.create_conversation("t")
    store.add_message(conv.id, "user", "hello")
    first = store.backup_if_due()
    assert first is not None and "daily" in first.name
    assert store.backup_if_due() is None  # fresh: within the hour
    now = time.time()
    assert backups.due(tmp_path / "backups", now + 2 * 3600) == "recent"
    assert backups.due(tmp_path / "backups", now + 25 * 3600) == "daily"
    for day in range(12):  # old ones, as the days went by
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now - (day + 2) * 86400))
        (tmp_path / "backups" / f"history-{stamp}-daily.sqlite3").write_bytes(first.read_bytes())
    (tmp_path / "backups" / "history-20200101-000000-daily.sqlite3.part").write_bytes(b"half")
    os.utime(tmp_path / "backups" / "history-20200101-000000-daily.sqlite3.part", (0, 0))
    store.backup("before-import")
    left = backups.list_backups(tmp_path / "backups")
    assert sum(b.reason == "daily" for b in left) == backups.KEEP_DAILY
    assert left[-1].created > now - 9 * 86400  # the oldest went
    assert not list((tmp_path / "backups").glob("*.part"))


def test_an_empty_database_that_was_in_use_is_refused_and_restored(used):
    db = _db(used)
    os.truncate(db, 0)
    line = _one_line_error(run_cli("history", "list"), "damaged", "assistant history restore")
    assert db.stat().st_size == 0, "a fresh history was written over it"
    _one_line_error(run_cli("ask", "hello"), "damaged")
    assert db.stat().st_size == 0
    r = run_cli("history", "restore", "--yes")
    assert r.returncode == 0 and "Restored the backup" in r.stdout, (line, r.stderr)
    assert "Biscuit" in run_cli("memory", "list").stdout
    aside = [p for p in (used / "data" / "backups").iterdir() if "set-aside" in p.name]
    assert len(aside) == 1 and aside[0].stat().st_size == 0  # kept, never deleted
    assert run_cli("doctor").returncode == 0


def test_a_missing_database_with_backups_is_not_silently_started_over(used):
    _db(used).unlink()
    line = _one_line_error(run_cli("history", "list"), "missing", "assistant history restore")
    assert not _db(used).exists(), "an empty history was created over the backups"
    assert run_cli("history", "restore", "--yes").returncode == 0
    assert "Biscuit" in run_cli("memory", "list").stdout, line


def test_another_programs_database_is_never_written_into(assistant_home):
    db = _db(assistant_home)
    db.parent.mkdir(parents=True)
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE recipes (name TEXT)")
    con.execute("INSERT INTO recipes VALUES ('soup')")
    con.commit()
    con.close()
    before = _sha(db)
    _one_line_error(run_cli("history", "list"), "not an assistant history")
    assert _sha(db) == before


def _break_pages(db: Path, table: str) -> None:
    """Make every page of a table unreadable as a b-tree page (its type byte)."""
    con = sqlite3.connect(db)
    pages = [r[0] for r in con.execute("SELECT pageno FROM dbstat WHERE name = ?", (table,))]
    size = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    data = bytearray(db.read_bytes())
    for p in pages:
        data[(p - 1) * size + (100 if p == 1 else 0)] = 0x77
    db.write_bytes(bytes(data))


def test_damaged_pages_are_found_at_open_and_nothing_is_written_into_them(used):
    with HistoryStore(_db(used)) as store:  # enough messages to fill pages of their own
        conv = store.create_conversation("long")
        for i in range(300):
            store.add_message(conv.id, "user", f"message {i} " + "words " * 40)
    run_cli("history", "backup")
    _break_pages(_db(used), "messages")
    before = _sha(_db(used))
    for args in (("history", "list"), ("memory", "list"), ("ask", "hello"), ("doctor",)):
        r = run_cli(*args)
        assert r.returncode == 1 and "Traceback" not in r.stderr, (args, r.stderr[-2000:])
        assert "damaged" in (r.stderr + r.stdout), (args, r.stderr)
    _one_line_error(run_cli("history", "list"), "assistant history restore")
    assert _sha(_db(used)) == before, "a command wrote into the damaged file"
    assert run_cli("history", "restore", "--yes").returncode == 0
    assert "long" in run_cli("history", "list").stdout


def test_without_backups_the_advice_does_not_point_at_them(assistant_home):
    assert run_cli("memory", "add", "My dog is called Biscuit").returncode == 0
    db = _db(assistant_home)
    db.write_bytes(os.urandom(100) + db.read_bytes()[100:])
    line = _one_line_error(run_cli("history", "list"), "damaged")
    assert "restore" not in line and "no backup" in line
    r = run_cli("history", "restore", "--yes")
    assert r.returncode == 1 and "No backups" in r.stderr


def test_forgetting_removes_it_from_the_backups_too(assistant_home):
    secret = "my locker code is 5551234"
    assert run_cli("memory", "add", secret).returncode == 0
    assert run_cli("history", "backup").returncode == 0
    folder = assistant_home / "data" / "backups"
    assert any(b"5551234" in p.read_bytes() for p in folder.iterdir())
    assert run_cli("history", "restore", "--yes").returncode == 0  # sets the current file aside
    assert any("set-aside" in p.name for p in folder.iterdir())
    assert run_cli("memory", "forget", "--all", "--yes").returncode == 0
    for p in [*folder.iterdir(), *assistant_home.joinpath("data").glob("history.sqlite3*")]:
        assert b"5551234" not in p.read_bytes(), p.name


def test_the_window_offers_the_newest_good_backup(used, qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from assistant.ui.app import offer_restore

    os.truncate(_db(used), 0)
    clicked: list[str] = []

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(50, click)
            return
        button = next(b for b in box.buttons() if b.text().startswith("Restore"))
        clicked.append(button.text())
        button.click()

    QTimer.singleShot(50, click)
    assert offer_restore("The history database is damaged.") is True
    assert clicked and "backup from" in clicked[0]
    assert "Biscuit" in run_cli("memory", "list").stdout

"""What the data-safety checks cost — ours vs the raw libraries, in the same run.

    python bench/safety.py [--messages 20000] [--passages 10000] [--rounds 7]

1. Chat template rendering: our budgeted sandbox (time checked on every operation,
   loops wrapped, sizes checked) ÷ Jinja's plain ImmutableSandboxedEnvironment, on the
   starter model's own template over a 40-message conversation.
2. Opening the history: `HistoryStore` (integrity_check before anything is written,
   drafts recovered) ÷ a bare sqlite3 connect with the same pragmas, on a database of
   MESSAGES messages and PASSAGES document passages with their vectors.
3. The hourly backup of that database (online backup + integrity_check + fsync), and
   `secure_existing` walking a profile (the permission fix-up at every start).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jinja2.sandbox import ImmutableSandboxedEnvironment

from assistant.core.base import privacy, starter
from assistant.core.engine import gguf_file
from assistant.core.history import backups
from assistant.core.history.store import HistoryStore
from assistant.core.templates.chat_template import ChatTemplate


def best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_template(rounds: int) -> None:
    path = starter.CHAT.path()
    assert path is not None, "starter model missing: make setup"
    source = gguf_file.inspect(path).chat_template or ""
    msgs = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i} " + "word " * 60}
        for i in range(40)
    ]
    ours = ChatTemplate(source, name="starter")
    raw = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).from_string(source)
    assert ours.render(msgs) == raw.render(messages=msgs, add_generation_prompt=True)
    n = 200
    t_ours = best(lambda: [ours.render(msgs) for _ in range(n)], rounds) / n
    t_raw = (
        best(
            lambda: [raw.render(messages=msgs, add_generation_prompt=True) for _ in range(n)],
            rounds,
        )
        / n
    )
    print(
        f"template render (40 messages): ours {t_ours * 1e3:.3f} ms, raw {t_raw * 1e3:.3f} ms, ratio {t_ours / t_raw:.2f}"
    )


def build_db(path: Path, messages: int, passages: int) -> None:
    rnd = random.Random(1)
    words = [
        "".join(rnd.choice(string.ascii_lowercase) for _ in range(rnd.randint(3, 9)))
        for _ in range(5000)
    ]
    text = lambda: " ".join(rnd.choice(words) for _ in range(120))  # noqa: E731
    with HistoryStore(path) as s, s.transaction() as db:
        for c in range(messages // 50):
            cid = db.execute(
                "INSERT INTO conversations (uid, title, created_at, updated_at) VALUES (?, 't', 0, 0)",
                (f"c{c}",),
            ).lastrowid
            for m in range(50):
                db.execute(
                    "INSERT INTO messages (uid, conversation_id, role, content, created_at)"
                    " VALUES (?, ?, 'user', ?, 0)",
                    (f"m{c}-{m}", cid, text()),
                )
        src = db.execute("INSERT INTO doc_sources (path, added_at) VALUES ('/d', 0)").lastrowid
        doc = db.execute(
            "INSERT INTO documents (source_id, path, status, indexed_at) VALUES (?, '/d/a', 'indexed', 0)",
            (src,),
        ).lastrowid
        for k in range(passages):
            cid = db.execute(
                "INSERT INTO doc_chunks (document_id, ordinal, text) VALUES (?, ?, ?)",
                (doc, k, text()),
            ).lastrowid
            db.execute(
                "INSERT INTO vectors (key, model, vec) VALUES (?, 'm', ?)",
                (f"c{cid}", os.urandom(1536)),
            )


def raw_open(path: Path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in (
        "busy_timeout = 10000",
        "journal_mode = WAL",
        "synchronous = NORMAL",
        "foreign_keys = ON",
    ):
        db.execute(f"PRAGMA {pragma}")
    db.execute("SELECT COUNT(*) FROM conversations").fetchone()
    db.close()


def bench_history(messages: int, passages: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "data" / "history.sqlite3"
        path.parent.mkdir()
        build_db(path, messages, passages)
        size = path.stat().st_size / 1e6
        t_ours = best(lambda: HistoryStore(path).close(), rounds)
        t_raw = best(lambda: raw_open(path), rounds)
        print(
            f"history open ({size:.0f} MB, {messages} messages, {passages} passages): "
            f"ours {t_ours * 1e3:.1f} ms, raw {t_raw * 1e3:.1f} ms (+{(t_ours - t_raw) * 1e3:.1f} ms)"
        )
        folder = Path(d) / "backups"
        con = sqlite3.connect(path)
        t_backup = best(lambda: backups.make_backup(con, folder, "bench"), 3)
        con.close()
        print(f"backup ({size:.0f} MB, verified): {t_backup:.2f} s")
        profile = Path(d)
        for i in range(200):  # a profile's worth of files: index segments, logs, models
            (profile / "data" / f"f{i}").write_bytes(b"x")
        t_walk = best(lambda: privacy.secure_existing(profile), rounds)
        n = sum(1 for _ in profile.rglob("*"))
        print(f"secure_existing ({n} paths): {t_walk * 1e3:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--passages", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    bench_template(a.rounds)
    bench_history(a.messages, a.passages, a.rounds)


if __name__ == "__main__":
    main()

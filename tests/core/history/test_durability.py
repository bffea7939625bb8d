"""Kill -9 a process mid-answer, many times: nothing committed or shown is lost."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

from assistant.core.history.store import HistoryStore
from tests.conftest import ROOT

KILLS = 12


def _run_and_kill(db, model, after: float) -> list[dict]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.durability_writer", str(db), str(model)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    events: list[dict] = []

    def reader() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            with contextlib.suppress(json.JSONDecodeError):  # a line cut by the kill
                events.append(json.loads(line))

    t = threading.Thread(target=reader)
    t.start()
    deadline = time.monotonic() + 60
    # Wait until it is really writing, then kill at a random moment after that.
    while not any("user" in e for e in events) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(after)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    t.join()
    return events


def test_sigkill_mid_answer_loses_nothing(tmp_path, starter_gguf):
    db = tmp_path / "history.sqlite3"
    rng = random.Random(1234)
    total_users = total_done = mid_answer_kills = 0
    for _ in range(KILLS):
        events = _run_and_kill(db, starter_gguf, rng.uniform(0.0, 1.5))
        assert any("user" in e for e in events), "writer never started"
        with HistoryStore(db) as store:
            assert store.integrity_check() == "ok"
            # Every question that was reported committed is there, verbatim.
            for e in (e for e in events if "user" in e):
                assert store.get_message(e["user"]).content == e["text"]
                total_users += 1
            # Every finished answer is there, complete and verbatim.
            for e in (e for e in events if "done" in e):
                m = store.get_message(e["done"])
                assert (m.content, m.status) == (e["answer"], "complete")
                total_done += 1
            # The answer in flight: all text shown before the kill survived.
            last_user = max(i for i, e in enumerate(events) if "user" in e)
            if not any("done" in e for e in events[last_user:]):
                shown = "".join(e["chunk"] for e in events[last_user:] if "chunk" in e)
                user_id = events[last_user]["user"]
                conv = store.get_message(user_id).conversation_id
                answers = [m for m in store.messages(conv) if m.parent_id == user_id]
                if answers:
                    (answer,) = answers
                    assert answer.content.startswith(shown)
                    # "complete" when the kill fell between the final commit and the
                    # writer reporting it; otherwise recovered as interrupted.
                    assert answer.status in ("interrupted", "complete")
                    mid_answer_kills += shown != ""
                else:
                    assert shown == ""
            assert store._query("SELECT COUNT(*) FROM message_drafts")[0][0] == 0
    print(
        f"kills={KILLS} questions={total_users} answers={total_done} mid-answer={mid_answer_kills}"
    )
    # The random kill times must actually have hit answers mid-stream.
    assert mid_answer_kills >= KILLS // 4, (mid_answer_kills, total_users, total_done)

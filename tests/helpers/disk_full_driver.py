"""Run by test_disk_full inside a mount namespace, with a small tmpfs at MNT.

Data and config live on the tmpfs; the cache (the unpacked embedder, ~90 MB) on the
big disk, as on a computer whose home partition filled up. Writes one JSON list of
[check, problem] to OUT; an empty problem means the check passed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

results: list[list[str]] = []


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def check(name: str, r: subprocess.CompletedProcess, must_work: bool = False) -> bool:
    lines = [x for x in r.stderr.splitlines() if x.strip() and not x.startswith("[")]
    why = ""
    if "Traceback" in r.stderr:
        why = f"traceback: {r.stderr[-300:]}"
    elif r.returncode != 0 and must_work:
        why = f"rc {r.returncode}: {r.stderr[-300:]}"
    elif r.returncode != 0 and (len(lines) != 1 or "disk is full" not in lines[0].lower()):
        why = f"not one line saying the disk is full: {lines[-3:]}"
    results.append([name, why])
    return not why and r.returncode == 0


def fill(mnt: Path, leave: int) -> None:
    filler = mnt / "filler"
    filler.unlink(missing_ok=True)
    st = os.statvfs(mnt)
    extra = st.f_bavail * st.f_frsize - leave
    if extra > 0:
        with open(filler, "wb") as f, contextlib.suppress(OSError):
            os.posix_fallocate(f.fileno(), 0, extra)


def query(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(f"file:{db}?immutable=1", uri=True)  # reads on a full disk too
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def main(mnt: Path, out: Path, work: Path) -> None:
    home = mnt / "home"
    (home / "data").mkdir(parents=True)
    (work / "cache").mkdir(exist_ok=True)
    (home / "cache").symlink_to(work / "cache")
    env = dict(os.environ, ASSISTANT_HOME=str(home))
    db = home / "data" / "history.sqlite3"
    docs = work / "docs"
    docs.mkdir(exist_ok=True)
    for i in range(3):
        (docs / f"note{i}.md").write_text(f"# Note {i}\n\n" + f"Kettle {i} needs descaling. " * 30)
    for args in (
        ("memory", "add", "My dog is called Biscuit"),
        ("ask", "Tell me about kettles"),
        ("docs", "add", str(docs)),
    ):
        if not check(f"baseline {args[0]}", cli(env, *args), must_work=True):
            out.write_text(json.dumps(results))
            return
    pre = json.loads(cli(env, "history", "export").stdout)

    levels = ((256 * 1024, "256 KB free"), (0, "0 bytes free"), (64 * 1024, "64 KB free"))
    for leave, tag in levels:
        fill(mnt, leave)
        more = work / f"docs-{leave}"
        more.mkdir()
        (more / "lantern.md").write_text("# Lantern\n\n" + "The lantern is copper. " * 40)
        check(f"{tag}: history list", cli(env, "history", "list"), must_work=True)
        check(f"{tag}: memory list", cli(env, "memory", "list"), must_work=True)
        elsewhere = work / f"export-{leave}.json"
        r = cli(env, "history", "export", "-o", str(elsewhere))
        if check(f"{tag}: export to another disk", r, must_work=True):
            got = {
                c["uid"]: c["messages"] for c in json.loads(elsewhere.read_text())["conversations"]
            }
            lost = [c["uid"] for c in pre["conversations"] if got.get(c["uid"]) != c["messages"]]
            if lost:
                results.append([f"{tag}: export to another disk", f"lacks or changed {lost}"])
        here = home / f"export-{leave}.json"
        r = cli(env, "history", "export", "-o", str(here))
        check(f"{tag}: export onto the full disk", r)
        if r.returncode != 0 and here.exists():
            results.append([f"{tag}: failed export", f"left a {here.stat().st_size}-byte file"])
        check(f"{tag}: memory search", cli(env, "memory", "search", "what is my dog called"))
        check(f"{tag}: ask", cli(env, "ask", "What colour is the sky?"))
        check(f"{tag}: memory add", cli(env, "memory", "add", f"My locker {leave} holds a kettle"))
        check(f"{tag}: docs add", cli(env, "docs", "add", str(more)))
        r = cli(env, "doctor")
        said = (r.stdout + r.stderr).lower()
        results.append([f"{tag}: doctor", "calls the index damaged" if "damaged" in said else ""])
        ic = query(db, "PRAGMA integrity_check")[0][0]
        results.append([f"{tag}: database intact", "" if ic == "ok" else ic])

    (mnt / "filler").unlink()
    post = json.loads(cli(env, "history", "export").stdout)
    before = {c["uid"]: c["messages"] for c in pre["conversations"]}
    after = {c["uid"]: c["messages"] for c in post["conversations"]}
    changed = [u for u in before if after.get(u) != before[u]]
    results.append(["after: earlier chats unchanged", f"changed: {changed}" if changed else ""])
    empty = query(
        db,
        "SELECT id FROM conversations c WHERE NOT EXISTS"
        " (SELECT 1 FROM messages m WHERE m.conversation_id = c.id)",
    )
    results.append(["after: no empty conversation left", f"{empty}" if empty else ""])
    check("after: ask works", cli(env, "ask", "Name a colour."), must_work=True)
    check("after: docs add works", cli(env, "docs", "add", str(work / "docs-0")), must_work=True)
    r = cli(env, "docs", "search", "what is the lantern made of", "--json")
    if check("after: docs search", r, must_work=True):
        top = json.loads(r.stdout)[0]["path"] if json.loads(r.stdout) else ""
        results.append(["after: the new document is found", "" if "lantern" in top else top])
    not_embedded = query(
        db,
        "SELECT COUNT(*) FROM doc_chunks c JOIN documents d ON d.id = c.document_id"
        " WHERE d.status = 'indexed' AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.key = 'c' || c.id)",
    )[0][0]
    results.append(
        [
            "after: every indexed passage has its vector",
            f"{not_embedded} lack one" if not_embedded else "",
        ]
    )
    out.write_text(json.dumps(results))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))

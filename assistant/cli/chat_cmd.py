"""`assistant ask` and `assistant chat`: streaming answers in the terminal."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator

from assistant.cli import common
from assistant.core.base.errors import AssistantError
from assistant.core.base.types import (
    CancelToken,
    Chunk,
    ContextNotice,
    Done,
    MemoryNotice,
    RecallNotice,
    TextChunk,
)
from assistant.core.chat.service import ChatService

HELP = """Commands: /new  start a new conversation   /regen  answer the last message again
          /list  recent conversations      /open ID  continue one
          /help  this text                 /quit  leave (or Ctrl+D)
Ctrl+C stops an answer."""


def register(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("ask", help="ask one question; the answer streams to stdout")
    a.add_argument("question", nargs="+")
    a.add_argument("--json", action="store_true", help="print answer and stats as one JSON object")
    a.add_argument("--model", metavar="PATH", help="a GGUF file or folder (default: settings)")
    a.add_argument("--system", metavar="TEXT", help="system prompt for this question")
    a.add_argument("--no-save", action="store_true", help="do not keep it in history")
    a.add_argument(
        "--docs",
        action="store_true",
        help="answer only from your documents, with citations (see `assistant docs`)",
    )
    a.set_defaults(func=cmd_ask)

    c = sub.add_parser("chat", help="chat in the terminal (saved to history)")
    c.add_argument("--model", metavar="PATH", help="a GGUF file or folder (default: settings)")
    c.add_argument(
        "--continue", dest="resume", type=int, metavar="ID", help="continue conversation ID"
    )
    c.set_defaults(func=cmd_chat)


class _Streamed:
    """What one answer brought besides its text."""

    def __init__(self) -> None:
        self.done: Done | None = None
        self.recalled: list[dict] = []
        self.saved: list[tuple[int, str]] = []
        self.proposed: list[tuple[int, str]] = []


def _stream_to(out, chunks: Iterator[Chunk], dim: common.Dim, show: bool = True) -> _Streamed:
    got = _Streamed()
    for chunk in chunks:
        if isinstance(chunk, TextChunk) and show:
            out.write(chunk.text)
            out.flush()
        elif isinstance(chunk, ContextNotice):
            print(dim(f"[{chunk.message}]"), file=sys.stderr)
        elif isinstance(chunk, RecallNotice):
            got.recalled = list(chunk.items)
        elif isinstance(chunk, MemoryNotice):
            got.saved += chunk.saved
            got.proposed += chunk.proposed
            if chunk.problem:
                print(dim(f"[{chunk.problem}]"), file=sys.stderr)
        elif isinstance(chunk, Done):
            got.done = chunk
    return got


def _sources_note(got: _Streamed) -> str | None:
    """ "[sources: [1] guide.pdf, page 3 · 2 memories]" under an answer."""
    docs = [i for i in got.recalled if i["kind"] == "document"]
    parts = [f"[{n}] {d['label']}" for n, d in enumerate(docs, 1)]
    n_mem = sum(i["kind"] == "memory" for i in got.recalled)
    if n_mem:
        parts.append(f"{n_mem} memor{'y' if n_mem == 1 else 'ies'}")
    parts += [i["label"] for i in got.recalled if i["kind"] == "conversation"]
    notes = [f"[used: {' · '.join(parts)}]"] if parts else []
    for mid, text in got.proposed:
        notes.append(f"[remember “{text}”? `assistant memory accept {mid}`]")
    return "\n".join(notes) or None


def cmd_ask(args: argparse.Namespace) -> int:
    question = " ".join(args.question).strip()
    if not question:
        raise AssistantError("Nothing to ask: the question is empty.", 'Try `assistant ask "…"`.')
    settings = common.settings()
    cancel = CancelToken()
    dim = common.Dim()
    with common.open_session(settings, recall_only=True) as session:
        engine = common.open_model(session, settings, args.model)
        conv, chunks = session.ready_service().start(
            question, cancel, documents_only=args.docs, system_prompt=args.system
        )
        with common.ctrl_c_cancels(cancel):
            got = _stream_to(sys.stdout, chunks, dim, not args.json)
        if args.no_save:
            session.store.delete_conversation(conv.id)
    done = got.done
    assert done is not None
    if args.json:
        citations = [i for i in got.recalled if i["kind"] == "document"]
        print(
            json.dumps(
                {
                    "answer": done.text,
                    "finish_reason": done.finish_reason,
                    "model": engine.name,
                    "conversation_id": None if args.no_save else conv.id,
                    "citations": citations,
                    "recalled": got.recalled,
                    "memories_saved": [{"id": i, "text": t} for i, t in got.saved],
                    "memories_proposed": [{"id": i, "text": t} for i, t in got.proposed],
                    "stats": done.stats.to_dict(),
                },
                ensure_ascii=False,
            )
        )
    else:
        if not done.text.endswith("\n"):
            print()
        if done.finish_reason == "cancelled":
            print(dim("[stopped]"), file=sys.stderr)
        note = _sources_note(got)
        if note:
            print(dim(note), file=sys.stderr)
    return 0


def _replay(store, conv_id: int, dim: common.Dim) -> None:
    for m in store.thread(conv_id):
        note = "" if m.status == "complete" else dim(f"  [{m.status}]")
        print(("you> " if m.role == "user" else "") + m.content + note)


class _Chat:
    """The terminal chat's state: a conversation is created with its first message."""

    def __init__(self, store, service: ChatService, dim: common.Dim) -> None:
        self.store, self.service, self.dim = store, service, dim
        self.conv_id: int | None = None

    def command(self, text: str) -> Iterator[Chunk] | bool | None:
        """Run a /command. Returns chunks to stream, False to quit, None when done."""
        cmd, _, rest = text.partition(" ")
        dim = self.dim
        if cmd in ("/quit", "/exit"):
            return False
        if cmd == "/help":
            print(HELP)
        elif cmd == "/new":
            self.conv_id = None
            print(dim("new conversation: it is saved with its first message"))
        elif cmd == "/list":
            convs = self.store.list_conversations(limit=15)
            for c in convs:
                print(f"{c.id:>5}  {c.title or '(untitled)'}")
            if not convs:
                print(dim("no conversations yet"))
        elif cmd == "/open":
            if not rest.strip().isdigit():
                print(dim("usage: /open ID (see /list)"))
                return None
            conv = self.store.get_conversation(int(rest))
            self.conv_id = conv.id
            print(dim(f"conversation {conv.id}: {conv.title or '(untitled)'}"))
            _replay(self.store, conv.id, dim)
        elif cmd == "/regen":
            if self.conv_id is None:
                raise AssistantError("Nothing to regenerate yet.", "Send a message first.")
            self.cancel = CancelToken()
            return self.service.regenerate(self.conv_id, self.cancel)
        else:
            print(dim(f"unknown command {cmd}; /help lists them"))
        return None

    def send(self, text: str) -> Iterator[Chunk]:
        self.cancel = CancelToken()
        if self.conv_id is None:
            conv, chunks = self.service.start(text, self.cancel)
            self.conv_id = conv.id
            return chunks
        return self.service.send(self.conv_id, text, self.cancel)


def cmd_chat(args: argparse.Namespace) -> int:
    settings = common.settings()
    dim = common.Dim(sys.stdout)
    with common.open_session(settings) as session:
        store = session.store
        if args.resume is not None:
            store.get_conversation(args.resume)  # fail fast, before loading the model
        print(dim("Loading the model…"), flush=True)
        engine = common.open_model(session, settings, args.model)
        chat = _Chat(store, session.ready_service(), dim)
        print(dim(f"{engine.name} · /help for commands · Ctrl+D or /quit to leave"))
        if args.resume is not None:
            chat.conv_id = args.resume
            _replay(store, args.resume, dim)
        while True:
            try:
                text = input("you> ").strip()
            except EOFError:
                print()
                return 0
            except KeyboardInterrupt:
                print(dim("\n(Ctrl+D or /quit to leave)"))
                continue
            if not text:
                continue
            try:
                chunks = chat.command(text) if text.startswith("/") else chat.send(text)
                if chunks is False:
                    return 0
                if chunks is None:
                    continue
                with common.ctrl_c_cancels(chat.cancel):
                    got = _stream_to(sys.stdout, chunks, dim)
            except AssistantError as e:
                print(f"error: {e}", file=sys.stderr)
                continue
            print()
            done = got.done
            note = _sources_note(got)
            if note:
                print(dim(note))
            if done is not None:
                s = done.stats
                note = " · stopped" if done.finish_reason == "cancelled" else ""
                print(dim(f"[{s.generated_tokens} tokens · {s.tokens_per_s:.1f} tok/s{note}]"))

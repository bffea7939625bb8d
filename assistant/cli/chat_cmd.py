"""`assistant ask` and `assistant chat`: streaming answers in the terminal."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator

from assistant.cli import common
from assistant.core.chat import ChatService
from assistant.core.errors import AssistantError
from assistant.core.types import CancelToken, Chunk, ContextNotice, Done, TextChunk

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
    a.set_defaults(func=cmd_ask)

    c = sub.add_parser("chat", help="chat in the terminal (saved to history)")
    c.add_argument("--model", metavar="PATH", help="a GGUF file or folder (default: settings)")
    c.add_argument(
        "--continue", dest="resume", type=int, metavar="ID", help="continue conversation ID"
    )
    c.set_defaults(func=cmd_chat)


def _stream_to(out, chunks: Iterator[Chunk], dim: common.Dim, show: bool = True) -> Done | None:
    done = None
    for chunk in chunks:
        if isinstance(chunk, TextChunk) and show:
            out.write(chunk.text)
            out.flush()
        elif isinstance(chunk, ContextNotice):
            print(dim(f"[{chunk.message}]"), file=sys.stderr)
        elif isinstance(chunk, Done):
            done = chunk
    return done


def cmd_ask(args: argparse.Namespace) -> int:
    settings = common.settings()
    engine = common.open_engine(settings, args.model)
    question = " ".join(args.question)
    cancel = CancelToken()
    dim = common.Dim()
    with common.open_store() as store:
        service = ChatService(store, engine, settings)
        conv = service.new_conversation(args.system)
        with common.ctrl_c_cancels(cancel):
            done = _stream_to(
                sys.stdout, service.send(conv.id, question, cancel), dim, not args.json
            )
        if args.no_save:
            store.delete_conversation(conv.id)
    assert done is not None
    if args.json:
        print(
            json.dumps(
                {
                    "answer": done.text,
                    "finish_reason": done.finish_reason,
                    "model": engine.name,
                    "conversation_id": None if args.no_save else conv.id,
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
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    settings = common.settings()
    dim = common.Dim(sys.stdout)
    print(dim("Loading the model…"), flush=True)
    engine = common.open_engine(settings, args.model)
    with common.open_store() as store:
        service = ChatService(store, engine, settings)
        conv = store.get_conversation(args.resume) if args.resume else service.new_conversation()
        print(dim(f"{engine.name} · conversation {conv.id} · /help for commands"))
        for m in store.thread(conv.id) if args.resume else []:
            print(("you> " if m.role == "user" else "") + m.content)
        while True:
            try:
                line = input("you> ")
            except EOFError:
                print()
                return 0
            except KeyboardInterrupt:
                print()
                return 0
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                cmd, _, rest = text.partition(" ")
                if cmd in ("/quit", "/exit"):
                    return 0
                if cmd == "/help":
                    print(HELP)
                    continue
                if cmd == "/new":
                    conv = service.new_conversation()
                    print(dim(f"new conversation {conv.id}"))
                    continue
                if cmd == "/list":
                    for c in store.list_conversations(limit=15):
                        print(f"{c.id:>5}  {c.title or '(untitled)'}")
                    continue
                if cmd == "/open":
                    try:
                        conv = store.get_conversation(int(rest))
                    except (ValueError, AssistantError):
                        print(dim("usage: /open ID (see /list)"))
                        continue
                    for m in store.thread(conv.id):
                        print(("you> " if m.role == "user" else "") + m.content)
                    continue
                if cmd == "/regen":
                    chunks = service.regenerate(conv.id, cancel := CancelToken())
                else:
                    print(dim(f"unknown command {cmd}; /help lists them"))
                    continue
            else:
                chunks = service.send(conv.id, text, cancel := CancelToken())
            try:
                with common.ctrl_c_cancels(cancel):
                    done = _stream_to(sys.stdout, chunks, dim)
            except AssistantError as e:
                print(f"\nerror: {e}", file=sys.stderr)
                continue
            print()
            if done is not None:
                s = done.stats
                note = " · stopped" if done.finish_reason == "cancelled" else ""
                print(dim(f"[{s.generated_tokens} tokens · {s.tokens_per_s:.1f} tok/s{note}]"))

"""Child process for the SIGKILL test: chats forever, reporting what it showed.

Protocol on stdout, one JSON object per line, flushed: {"user": id, "text": ...}
after a question is committed, {"chunk": text} for each piece shown, {"done": id}
when an answer is complete.
"""

from __future__ import annotations

import json
import sys
from itertools import count

from assistant.core.base.types import Done, TextChunk
from assistant.core.chat.service import ChatService
from assistant.core.config.settings import ModelSettings, Settings
from assistant.core.engine.llama import ChatEngine
from assistant.core.history.store import HistoryStore


def say(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main(db: str, model: str) -> None:
    settings = Settings()
    settings.generation.max_tokens = 40
    engine = ChatEngine(ModelSettings(n_ctx=1024, n_threads=1), model)
    store = HistoryStore(db)
    service = ChatService(store, engine, settings)
    conv = service.new_conversation()
    for i in count():
        if i % 4 == 3:
            conv = service.new_conversation()
        question = f"Question {i}: tell me something about the number {i}."
        chunks = service.send(conv.id, question)
        say({"user": store.thread(conv.id)[-1].id, "text": question})
        for c in chunks:
            if isinstance(c, TextChunk):
                say({"chunk": c.text})
            elif isinstance(c, Done):
                say({"done": store.thread(conv.id)[-1].id, "answer": c.text})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

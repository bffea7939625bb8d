"""Conversations with the engine, persisted as they happen.

Every user message is committed before the model sees it, and every piece
of an answer is committed before it is handed to the caller, so nothing the
user typed or was shown can be lost, whatever kills the process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from assistant.core.base.errors import AssistantError
from assistant.core.base.types import (
    CancelToken,
    ChatRequest,
    Chunk,
    ContextNotice,
    Done,
    GenerationStats,
    MemoryNotice,
    RecallNotice,
    TextChunk,
    Turn,
)
from assistant.core.config.settings import GenerationSettings, Settings
from assistant.core.engine.protocol import Engine
from assistant.core.history.store import Conversation, HistoryStore, Message
from assistant.core.memory.recall import CONTEXT_HEADERS
from assistant.core.memory.service import NO_DOCUMENTS, NOT_IN_DOCUMENTS

if TYPE_CHECKING:
    from assistant.core.memory.service import MemoryService

log = logging.getLogger(__name__)

TITLE_CHARS = 60


def title_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


class ChatService:
    def __init__(
        self,
        store: HistoryStore,
        engine: Engine,
        settings: Settings,
        memory: MemoryService | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.memory = memory

    def new_conversation(self, system_prompt: str | None = None) -> Conversation:
        return self.store.create_conversation(
            system_prompt=self._prompt(system_prompt), model=self.engine.name
        )

    def _prompt(self, given: str | None) -> str:
        return self.settings.chat.system_prompt if given is None else given

    def start(
        self,
        text: str,
        cancel: CancelToken | None = None,
        params: GenerationSettings | None = None,
        documents_only: bool = False,
        system_prompt: str | None = None,
    ) -> tuple[Conversation, Iterator[Chunk]]:
        """A new conversation that begins with ``text``, both committed together, and
        the answer's stream (as ``send``)."""
        conv = self.store.create_conversation(
            title_from(text), self._prompt(system_prompt), self.engine.name, first_message=text
        )
        msg = self.store.thread(conv.id)[-1]
        return conv, self._after_user(conv.id, msg, cancel, params, documents_only)

    def send(
        self,
        conversation_id: int,
        text: str,
        cancel: CancelToken | None = None,
        params: GenerationSettings | None = None,
        documents_only: bool = False,
    ) -> Iterator[Chunk]:
        """Add the user's message (committed at once) and stream the answer.

        ``documents_only`` answers from the user's documents alone, and says so
        instead of guessing when no passage is relevant.
        """
        conv = self.store.get_conversation(conversation_id)
        try:
            msg = self.store.add_message(conversation_id, "user", text)
        except Exception:
            self._drop_if_empty(conversation_id)  # e.g. a full disk: no "(untitled)" left behind
            raise
        if not conv.title:
            self.store.update_conversation(conversation_id, title=title_from(text))
        return self._after_user(conversation_id, msg, cancel, params, documents_only)

    def _after_user(
        self,
        conversation_id: int,
        msg: Message,
        cancel: CancelToken | None,
        params: GenerationSettings | None,
        documents_only: bool,
    ) -> Iterator[Chunk]:
        text = msg.content
        saved = self.memory.remember_command(text, msg.id) if self.memory else None
        if saved is not None:
            reply = f"Got it, I'll remember that. Saved to memory: “{saved.text}”"
            replaced = self.memory.memories.history(saved.id)[1:2]
            if replaced and replaced[0].superseded_by == saved.id:
                reply += f" (instead of “{replaced[0].text}”)"
            notice = MemoryNotice(saved=((saved.id, saved.text),))
            return self._fixed_answer(conversation_id, msg.id, reply, "memory", notice)
        return self._answer(conversation_id, msg.id, cancel, params, documents_only)

    def _drop_if_empty(self, conversation_id: int) -> None:
        try:
            if not self.store.messages(conversation_id):
                self.store.delete_conversation(conversation_id)
        except Exception as e:  # the disk may be too full even for this
            log.warning("could not remove the empty conversation %s: %s", conversation_id, e)

    def regenerate(
        self,
        conversation_id: int,
        cancel: CancelToken | None = None,
        params: GenerationSettings | None = None,
        documents_only: bool = False,
    ) -> Iterator[Chunk]:
        """A new answer to the latest user message, as a sibling branch."""
        thread = self.store.thread(conversation_id)
        user = next((m for m in reversed(thread) if m.role == "user"), None)
        if user is None:
            raise AssistantError("Nothing to regenerate yet.", "Send a message first.")
        return self._answer(conversation_id, user.id, cancel, params, documents_only)

    def edit(
        self,
        message_id: int,
        text: str,
        cancel: CancelToken | None = None,
        params: GenerationSettings | None = None,
        documents_only: bool = False,
    ) -> Iterator[Chunk]:
        """Replace an earlier user message by a new branch and answer it."""
        old = self.store.get_message(message_id)
        if old.role != "user":
            raise AssistantError("Only your own messages can be edited.")
        msg = self.store.add_message(old.conversation_id, "user", text, parent_id=old.parent_id)
        return self._answer(old.conversation_id, msg.id, cancel, params, documents_only)

    def draft_request(self, conversation_id: int, draft: str) -> ChatRequest:
        """The request that sending ``draft`` now would make (for speculative prefill)."""
        conv = self.store.get_conversation(conversation_id)
        thread = self.store.thread(conversation_id)
        return _request(conv, [*(_turn(m) for m in thread), Turn("user", draft)])

    def request_for(self, conversation_id: int, leaf_id: int) -> ChatRequest:
        conv = self.store.get_conversation(conversation_id)
        return _request(conv, [_turn(m) for m in self.store.thread(conversation_id, leaf_id)])

    def _fixed_answer(
        self,
        conversation_id: int,
        user_message_id: int,
        text: str,
        kind: str,
        *before: Chunk,
    ) -> Iterator[Chunk]:
        """An answer the assistant gives itself (memory saved, not in documents)."""
        yield from before
        draft = self.store.start_draft(conversation_id, user_message_id, model="assistant")
        self.store.finish_draft(draft.id, text, "complete", {"fixed": kind})
        yield TextChunk(text)
        yield Done(text, "stop", GenerationStats(model="assistant"))

    def _recall(
        self, conversation_id: int, user_message_id: int, documents_only: bool
    ) -> tuple[list[Chunk], str | None, list[dict]] | None:
        """Notices to show, the context for the model, and the items to keep with the answer."""
        if self.memory is None:
            return [], None, []
        query = self.store.get_message(user_message_id).content
        notices: list[Chunk] = []
        proposal = self.memory.propose_from(query, user_message_id)
        if proposal:
            notices.append(proposal)
        try:
            found = self.memory.recall_for(query, conversation_id, documents_only)
        except Exception as e:  # recall is an aid: a broken index or server must not stop chat
            if documents_only:
                raise  # …unless the question is about the documents: say why, don't guess
            expected = isinstance(e, AssistantError)  # shown to the user as a notice already
            log.log(
                logging.INFO if expected else logging.WARNING,
                "recall failed: %s",
                e,
                exc_info=not expected,
            )
            problem = str(e) if isinstance(e, AssistantError) else f"{type(e).__name__}: {e}"
            notices.append(MemoryNotice(problem=f"Answering without memory: {problem}"))
            found = None
        if documents_only and (found is None or not found.documents):
            return None
        if found is None or not found.items:
            return notices, None, []
        items = [i.to_dict() for i in found.items]
        notices.append(RecallNotice(tuple(items)))
        # Kept with the answer, shown under it (shortened: the full text is in the database).
        kept = [{**d, **{k: d[k][:300] for k in ("text", "answer") if k in d}} for d in items]
        return notices, found.context, kept

    def _answer(
        self,
        conversation_id: int,
        user_message_id: int,
        cancel: CancelToken | None,
        params: GenerationSettings | None,
        documents_only: bool = False,
    ) -> Iterator[Chunk]:
        request = self.request_for(conversation_id, user_message_id)
        recalled = self._recall(conversation_id, user_message_id, documents_only)
        if recalled is None:
            has_docs = self.memory is not None and self.memory.has_documents()
            reply = NOT_IN_DOCUMENTS if has_docs else NO_DOCUMENTS
            yield from self._fixed_answer(conversation_id, user_message_id, reply, "no-documents")
            return
        notices, request.context, kept = recalled
        yield from notices
        params = params or self.settings.generation
        guards = echo_guards(request)
        params = params.model_copy(update={"stop": [*params.stop, *guards]})
        cancel = cancel or CancelToken()
        draft: Message = self.store.start_draft(
            conversation_id, user_message_id, model=self.engine.name
        )
        text = ""
        inner = self.engine.stream(request, params, cancel)
        try:
            for chunk in inner:
                if isinstance(chunk, TextChunk):
                    text += chunk.text
                    self.store.update_draft(draft.id, text)  # committed before shown
                elif isinstance(chunk, Done):
                    status = "stopped" if chunk.finish_reason == "cancelled" else "complete"
                    stats = chunk.stats.to_dict() | {"finish_reason": chunk.finish_reason}
                    if chunk.prompt is not None:  # kept for the prompt inspector
                        stats["prompt"] = chunk.prompt.to_dict()
                    if kept:
                        stats["recall"] = kept
                    if chunk.stopped_at in guards:
                        # Cut where the model began reciting our own text: never recalled
                        # into another conversation as an answer.
                        stats["echo_cut"] = True
                        log.info("conversation %s: answer cut at an echo", conversation_id)
                    self.store.finish_draft(draft.id, chunk.text, status, stats)
                    text = None  # type: ignore[assignment]
                elif isinstance(chunk, ContextNotice):
                    log.info("conversation %s: %s", conversation_id, chunk.message)
                yield chunk
        except GeneratorExit:
            # The consumer walked away (window closed, client gone): keep what was shown.
            if text is not None:
                self.store.finish_draft(draft.id, text, "stopped")
            raise
        except BaseException:
            if text:
                self.store.finish_draft(draft.id, text, "error")
            elif text is not None:  # failed before a word was shown: leave no empty answer
                self.store.discard_draft(draft.id)
            raise
        finally:
            inner.close()
        if self.memory is not None:
            self.memory.after_answer([user_message_id, draft.id])


ECHO_WORDS = 6  # this many words of our own text in a row is never a chance match


def echo_guards(request: ChatRequest) -> list[str]:
    """Our own text the model must never hand back as its answer, as stop strings (so
    it is cut before it is shown): any run of words from the system prompt, and the
    headers of the recalled context. Small models recite their instructions."""
    words = (request.system or "").split()
    runs = [" ".join(words[i : i + ECHO_WORDS]) for i in range(len(words) - ECHO_WORDS + 1)]
    return runs[:80] + (list(CONTEXT_HEADERS) if request.context else [])


def _turn(m: Message) -> Turn:
    return Turn(m.role, m.content, m.id)  # type: ignore[arg-type]


def _request(conv: Conversation, turns: list[Turn]) -> ChatRequest:
    kept: list[Turn] = []
    for t in turns:
        if t.role not in ("user", "assistant"):
            continue
        if kept and kept[-1].role == t.role:
            # The earlier message got no answer (it failed, e.g. too long for the
            # context). It stays in history but not in the prompt: many chat
            # templates insist on alternating roles, and it may not fit anyway.
            kept.pop()
        kept.append(t)
    return ChatRequest(turns=kept, system=conv.system_prompt, key=f"conv-{conv.id}")

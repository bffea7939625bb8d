"""Schema migrations for the history database, keyed by ``PRAGMA user_version``.

Each entry upgrades the schema by one version inside a transaction. Before any
migration of an existing database, the store copies it into ``backups/``.
Never edit a released migration; append a new one.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # v1: conversations, branching messages, in-flight drafts, full-text search.
    """
    CREATE TABLE conversations (
        id              INTEGER PRIMARY KEY,
        uid             TEXT NOT NULL UNIQUE,
        title           TEXT NOT NULL DEFAULT '',
        system_prompt   TEXT,
        model           TEXT,
        pinned          INTEGER NOT NULL DEFAULT 0,
        current_leaf_id INTEGER,
        created_at      REAL NOT NULL,
        updated_at      REAL NOT NULL
    );
    CREATE TABLE messages (
        id              INTEGER PRIMARY KEY,
        uid             TEXT NOT NULL UNIQUE,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        parent_id       INTEGER REFERENCES messages(id) ON DELETE CASCADE,
        role            TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content         TEXT NOT NULL DEFAULT '',
        status          TEXT NOT NULL DEFAULT 'complete'
                        CHECK (status IN ('complete', 'streaming', 'stopped', 'interrupted', 'error')),
        model           TEXT,
        stats           TEXT,
        created_at      REAL NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    CREATE INDEX messages_by_parent ON messages(parent_id);
    CREATE INDEX conversations_by_update ON conversations(updated_at);

    -- Text of an answer while it streams: written per token so that nothing
    -- shown survives only in memory; folded into messages when it ends.
    CREATE TABLE message_drafts (
        message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
        content    TEXT NOT NULL,
        owner_pid  INTEGER NOT NULL,
        updated_at REAL NOT NULL
    );

    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content='messages', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END;
    """,
    # v2: long-term memories about the user, with provenance and supersession.
    # A memory replaced by a newer fact keeps its row (status 'superseded',
    # superseded_by -> the new one) so its history stays visible; forgetting
    # deletes rows for real.
    """
    CREATE TABLE memories (
        id                     INTEGER PRIMARY KEY,
        uid                    TEXT NOT NULL UNIQUE,
        text                   TEXT NOT NULL,
        status                 TEXT NOT NULL DEFAULT 'active'
                               CHECK (status IN ('active', 'proposed', 'superseded', 'rejected')),
        origin                 TEXT NOT NULL DEFAULT 'user'
                               CHECK (origin IN ('user', 'extracted', 'imported')),
        source_conversation_id INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
        source_message_id      INTEGER REFERENCES messages(id) ON DELETE SET NULL,
        superseded_by          INTEGER REFERENCES memories(id) ON DELETE SET NULL,
        created_at             REAL NOT NULL,
        updated_at             REAL NOT NULL
    );
    CREATE INDEX memories_by_status ON memories(status, updated_at);

    CREATE VIRTUAL TABLE memories_fts USING fts5(
        text, content='memories', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
        INSERT INTO memories_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
        INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TRIGGER memories_fts_update AFTER UPDATE OF text ON memories BEGIN
        INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO memories_fts(rowid, text) VALUES (new.id, new.text);
    END;
    """,
    # v3: local documents (sources -> documents -> chunks, with FTS), a cache of
    # embedding vectors so the derived chroma index can be rebuilt without
    # re-embedding, and an epoch counter the index owner polls to notice
    # changes made by another process (e.g. the CLI while the window runs).
    """
    CREATE TABLE doc_sources (
        id       INTEGER PRIMARY KEY,
        path     TEXT NOT NULL UNIQUE,
        added_at REAL NOT NULL
    );
    CREATE TABLE documents (
        id         INTEGER PRIMARY KEY,
        source_id  INTEGER NOT NULL REFERENCES doc_sources(id) ON DELETE CASCADE,
        path       TEXT NOT NULL UNIQUE,
        size       INTEGER,
        mtime      REAL,
        sha256     TEXT,
        status     TEXT NOT NULL CHECK (status IN ('indexed', 'skipped', 'excluded')),
        error      TEXT,
        indexed_at REAL NOT NULL
    );
    CREATE INDEX documents_by_source ON documents(source_id);
    CREATE TABLE doc_chunks (
        id          INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        ordinal     INTEGER NOT NULL,
        text        TEXT NOT NULL,
        page        INTEGER,
        heading     TEXT
    );
    CREATE INDEX doc_chunks_by_document ON doc_chunks(document_id, ordinal);

    CREATE VIRTUAL TABLE doc_chunks_fts USING fts5(
        text, content='doc_chunks', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER doc_chunks_fts_insert AFTER INSERT ON doc_chunks BEGIN
        INSERT INTO doc_chunks_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER doc_chunks_fts_delete AFTER DELETE ON doc_chunks BEGIN
        INSERT INTO doc_chunks_fts(doc_chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;

    CREATE TABLE vectors (
        key   TEXT PRIMARY KEY,  -- 'm<id>' memory, 'c<id>' doc chunk, 'h<id>' message
        model TEXT NOT NULL,
        vec   BLOB NOT NULL      -- float32, L2-normalised
    );

    CREATE TABLE index_epoch (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
    INSERT INTO index_epoch VALUES (1, 0);

    CREATE TRIGGER memories_index_insert AFTER INSERT ON memories BEGIN
        UPDATE index_epoch SET n = n + 1;
    END;
    CREATE TRIGGER memories_index_update AFTER UPDATE OF text, status ON memories BEGIN
        UPDATE index_epoch SET n = n + 1;
        DELETE FROM vectors WHERE key = 'm' || old.id AND old.text != new.text;
    END;
    CREATE TRIGGER memories_index_delete AFTER DELETE ON memories BEGIN
        UPDATE index_epoch SET n = n + 1;
        DELETE FROM vectors WHERE key = 'm' || old.id;
    END;
    CREATE TRIGGER doc_chunks_index_insert AFTER INSERT ON doc_chunks BEGIN
        UPDATE index_epoch SET n = n + 1;
    END;
    CREATE TRIGGER doc_chunks_index_delete AFTER DELETE ON doc_chunks BEGIN
        UPDATE index_epoch SET n = n + 1;
        DELETE FROM vectors WHERE key = 'c' || old.id;
    END;
    CREATE TRIGGER messages_index_delete AFTER DELETE ON messages BEGIN
        UPDATE index_epoch SET n = n + 1;
        DELETE FROM vectors WHERE key = 'h' || old.id;
    END;
    CREATE TRIGGER messages_index_update AFTER UPDATE OF content ON messages BEGIN
        DELETE FROM vectors WHERE key = 'h' || old.id;
    END;
    """,
]

LATEST_VERSION = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    out: list[str] = []
    buf: list[str] = []
    for line in script.splitlines():
        if line.strip().startswith("--") or not line.strip():
            continue
        buf.append(line)
        candidate = "\n".join(buf)
        if sqlite3.complete_statement(candidate):
            out.append(candidate.strip())
            buf = []
    if "".join(buf).strip():
        out.append("\n".join(buf).strip())
    return out

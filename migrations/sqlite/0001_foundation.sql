-- Fieldloop server schema, SQLite. Times are unix milliseconds (BIGINT), money integer fen.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('feed', 0);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    region        TEXT,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL
);

CREATE TABLE devices (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    name          TEXT NOT NULL,
    actor_id      TEXT NOT NULL UNIQUE,
    registered_at BIGINT NOT NULL,
    revoked_at    BIGINT
);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    family     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

CREATE TABLE documents (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    region       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    assignee     TEXT,
    snapshot     BLOB NOT NULL,
    heads        TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    change_count BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX documents_seq ON documents (seq);
CREATE INDEX documents_region ON documents (region, seq);
CREATE INDEX documents_assignee ON documents (assignee);
CREATE INDEX documents_created_by ON documents (created_by);

-- The audit trail: every change ever accepted, keyed by its hash, never updated.
CREATE TABLE changes (
    hash        TEXT PRIMARY KEY,
    doc_id      TEXT NOT NULL REFERENCES documents (id),
    actor       TEXT NOT NULL,
    actor_seq   BIGINT NOT NULL,
    bytes       BLOB NOT NULL,
    user_id     TEXT NOT NULL,
    device_id   TEXT,
    device_time BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX changes_doc ON changes (doc_id, received_at);

-- Every field's current value, kept in step with its document in the merge transaction.
CREATE TABLE doc_fields (
    doc_id    TEXT NOT NULL REFERENCES documents (id),
    path      TEXT NOT NULL,
    value     TEXT NOT NULL,
    value_int BIGINT,
    PRIMARY KEY (doc_id, path)
);
CREATE INDEX doc_fields_path ON doc_fields (path, value);

CREATE TABLE blobs (
    sha256      TEXT PRIMARY KEY,
    mime        TEXT NOT NULL,
    size        BIGINT NOT NULL,
    bytes       BLOB NOT NULL,
    uploaded_by TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- A device's own store: one SQLite file per device.
CREATE TABLE IF NOT EXISTS documents (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    snapshot     BLOB NOT NULL,
    -- the device's own heads, hex, sorted, comma separated
    heads        TEXT NOT NULL DEFAULT '',
    -- the server's heads as last acknowledged, hex, comma separated ('' = never synced)
    synced_heads TEXT NOT NULL DEFAULT '',
    -- 1 while the device holds changes the server has not acknowledged
    dirty        INTEGER NOT NULL DEFAULT 0,
    -- JSON refusal when the server refused this document's changes (quarantine)
    refusal      TEXT,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_dirty ON documents (dirty);

-- Incremental saves appended after each local edit, folded into the snapshot now and then.
CREATE TABLE IF NOT EXISTS chunks (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents (id),
    bytes  BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc_id, seq);

-- Content-addressed blobs (signature images, photos).
CREATE TABLE IF NOT EXISTS blobs (
    sha256   TEXT PRIMARY KEY,
    mime     TEXT NOT NULL,
    bytes    BLOB NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0
);

-- Device settings: actor id, device id, server address, tokens, feed cursor.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

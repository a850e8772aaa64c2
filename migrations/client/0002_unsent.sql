-- Local changes the server has not acknowledged, as their raw bytes, in the order they were made:
-- a sync sends them as they are, without loading the documents.
CREATE TABLE IF NOT EXISTS unsent (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents (id),
    hash   TEXT NOT NULL UNIQUE,
    bytes  BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS unsent_doc ON unsent (doc_id, seq);

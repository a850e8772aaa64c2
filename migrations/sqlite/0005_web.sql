-- Browser sessions of the back office. The cookie holds a random token; only its hash is kept.
-- Each session has its own CSRF token, which every form of the session carries.
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);

-- Which record a signature image belongs to (the back office shows it only to those who may
-- see that record).
CREATE INDEX doc_fields_blob ON doc_fields (value) WHERE path LIKE '%blob_sha256';

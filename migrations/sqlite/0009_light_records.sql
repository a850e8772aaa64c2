-- Each change is stored once. A document is its compacted save (`snapshot`) plus the changes
-- merged since (`chunks`, raw change chunks appended in order), compacted again when the chunks
-- outgrow the snapshot. The change log keeps who sent each change and when, without its bytes
-- (the document holds them), with ids and hashes as bytes.
ALTER TABLE documents ADD COLUMN chunks BLOB NOT NULL DEFAULT x'';

-- A document's heads as their bytes (32 per hash), not comma-separated hex.
ALTER TABLE documents ADD COLUMN head_bytes BLOB NOT NULL DEFAULT x'';
UPDATE documents SET head_bytes = unhex(replace(heads, ',', ''));
ALTER TABLE documents DROP COLUMN heads;
ALTER TABLE documents RENAME COLUMN head_bytes TO heads;

-- Keyed by document, then hash: the log of one record is read together, and no other index
-- is needed.
CREATE TABLE change_log (
    doc_id      BLOB NOT NULL,
    hash        BLOB NOT NULL,
    actor       BLOB NOT NULL,
    actor_seq   BIGINT NOT NULL,
    user_id     BLOB NOT NULL,
    device_id   BLOB,
    device_time BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (doc_id, hash)
) WITHOUT ROWID;
INSERT INTO change_log
    SELECT unhex(replace(doc_id, '-', '')), unhex(hash), unhex(actor), actor_seq,
           unhex(replace(user_id, '-', '')),
           CASE WHEN device_id IS NULL THEN NULL ELSE unhex(replace(device_id, '-', '')) END,
           device_time, received_at
    FROM changes;
DROP TABLE changes;
ALTER TABLE change_log RENAME TO changes;

-- The projection keyed by its primary key alone (no second copy of every document id and path).
CREATE TABLE fields_by_doc (
    doc_id    TEXT NOT NULL REFERENCES documents (id),
    path      TEXT NOT NULL,
    value     TEXT NOT NULL,
    value_int BIGINT,
    PRIMARY KEY (doc_id, path)
) WITHOUT ROWID;
INSERT INTO fields_by_doc SELECT doc_id, path, value, value_int FROM doc_fields;
DROP TABLE doc_fields;
ALTER TABLE fields_by_doc RENAME TO doc_fields;
CREATE INDEX doc_fields_blob ON doc_fields (value) WHERE path LIKE '%blob_sha256';

-- Growing notes and free text that no list or register shows are read from the document, not
-- projected.
DELETE FROM doc_fields WHERE path IN ('form.diagnosis', 'form.work_done', 'form.parts_used',
    'receipt.condition', 'receipt.accessories', 'form.customer_demand', 'answer.comment');

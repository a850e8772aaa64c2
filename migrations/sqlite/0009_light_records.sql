-- Each change is stored once. A document is its compacted save (`snapshot`) plus the changes
-- merged since (`chunks`, raw change chunks appended in order), compacted again when the chunks
-- outgrow the snapshot. The change log keeps who sent each change and when, without its bytes
-- (the document holds them), with ids and hashes as bytes.
ALTER TABLE documents ADD COLUMN chunks BLOB NOT NULL DEFAULT x'';

CREATE TABLE change_log (
    hash        BLOB PRIMARY KEY,
    doc_id      BLOB NOT NULL,
    actor       BLOB NOT NULL,
    actor_seq   BIGINT NOT NULL,
    user_id     BLOB NOT NULL,
    device_id   BLOB,
    device_time BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
INSERT INTO change_log
    SELECT unhex(hash), unhex(replace(doc_id, '-', '')), unhex(actor), actor_seq,
           unhex(replace(user_id, '-', '')),
           CASE WHEN device_id IS NULL THEN NULL ELSE unhex(replace(device_id, '-', '')) END,
           device_time, received_at
    FROM changes;
DROP TABLE changes;
ALTER TABLE change_log RENAME TO changes;
CREATE INDEX changes_doc ON changes (doc_id, received_at);

-- Growing notes (diagnosis, work done) are read from the document, not projected.
DELETE FROM doc_fields WHERE path IN ('form.diagnosis', 'form.work_done');

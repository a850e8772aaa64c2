-- Each change is stored once. A document is its compacted save (`snapshot`) plus the changes
-- merged since (`chunks`, raw change chunks appended in order), compacted again when the chunks
-- outgrow the snapshot. The change log keeps who sent each change and when, without its bytes
-- (the document holds them), with ids and hashes as bytes.
ALTER TABLE documents ADD COLUMN chunks BYTEA NOT NULL DEFAULT ''::bytea;

-- A document's heads as their bytes (32 per hash), not comma-separated hex.
ALTER TABLE documents ALTER COLUMN heads TYPE BYTEA USING decode(replace(heads, ',', ''), 'hex');

-- Keyed by document, then hash: the log of one record is read together, and no other index
-- is needed.
CREATE TABLE change_log (
    doc_id      BYTEA NOT NULL,
    hash        BYTEA NOT NULL,
    actor       BYTEA NOT NULL,
    actor_seq   BIGINT NOT NULL,
    user_id     BYTEA NOT NULL,
    device_id   BYTEA,
    device_time BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (doc_id, hash)
);
INSERT INTO change_log
    SELECT decode(replace(doc_id, '-', ''), 'hex'), decode(hash, 'hex'), decode(actor, 'hex'),
           actor_seq, decode(replace(user_id, '-', ''), 'hex'),
           CASE WHEN device_id IS NULL THEN NULL ELSE decode(replace(device_id, '-', ''), 'hex') END,
           device_time, received_at
    FROM changes;
DROP TABLE changes;
ALTER TABLE change_log RENAME TO changes;

-- Growing notes and free text that no list or register shows are read from the document, not
-- projected.
DELETE FROM doc_fields WHERE path IN ('form.diagnosis', 'form.work_done', 'form.parts_used',
    'receipt.condition', 'receipt.accessories', 'form.customer_demand', 'answer.comment');

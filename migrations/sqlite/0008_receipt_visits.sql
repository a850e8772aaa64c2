-- §2.6: a job whose product was taken back is archived only once the product is back with the
-- customer, so each receipt names the visit it was issued on.
ALTER TABLE receipts ADD COLUMN visit_id TEXT;
UPDATE receipts SET visit_id = (
    SELECT value FROM doc_fields WHERE doc_fields.doc_id = receipts.id AND doc_fields.path = 'receipt.visit_id'
);
CREATE INDEX receipts_visit ON receipts (visit_id);

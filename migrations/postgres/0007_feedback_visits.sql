-- §3.5: every complaining customer is visited by the department head or a person the head
-- sends. Who went, and when, for complaints handled as feedback.
ALTER TABLE feedback_items ADD COLUMN head_visit TEXT;
ALTER TABLE feedback_items ADD COLUMN head_visit_at BIGINT;

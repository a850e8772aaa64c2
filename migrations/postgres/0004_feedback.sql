-- Customer opinion (§3): survey templates, campaigns, and feedback items being handled.
CREATE TABLE survey_templates (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    questions  TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE campaigns (
    id            TEXT PRIMARY KEY,
    template_id   TEXT NOT NULL REFERENCES survey_templates (id),
    name          TEXT NOT NULL,
    period        TEXT NOT NULL,
    region        TEXT,
    product_model TEXT,
    opens_on      TEXT NOT NULL,
    closes_on     TEXT NOT NULL,
    closed_at     BIGINT,
    created_at    BIGINT NOT NULL
);

-- One row per feedback document, for handling and chasing (§3.3-3.4).
CREATE TABLE feedback_items (
    id               TEXT PRIMARY KEY REFERENCES documents (id),
    region           TEXT NOT NULL,
    kind             TEXT NOT NULL,
    severity         TEXT NOT NULL,
    technician       TEXT,
    visit_id         TEXT,
    campaign_id      TEXT,
    rating           BIGINT,
    state            TEXT NOT NULL,
    reported_at      BIGINT,
    answered_at      BIGINT,
    answer_method    TEXT,
    answer_text      TEXT,
    complaint_id     TEXT,
    last_chased_at   BIGINT,
    chase_count      BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX feedback_items_state ON feedback_items (state, created_at);

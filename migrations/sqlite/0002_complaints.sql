-- Complaint cases (§4): the case as a JSON state of the pure workflow, with the columns the
-- register and the overdue list need. `version` guards against stale actions.
CREATE TABLE complaint_cases (
    id         TEXT PRIMARY KEY REFERENCES documents (id),
    region     TEXT NOT NULL,
    number     TEXT UNIQUE,
    state      TEXT NOT NULL,
    filed_by   TEXT NOT NULL,
    due_at     BIGINT,
    closed_at  BIGINT,
    original   TEXT,
    body       TEXT NOT NULL,
    version    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX complaint_cases_state ON complaint_cases (state, due_at);
CREATE INDEX complaint_cases_closed ON complaint_cases (closed_at);

-- Every action on a case, who did it and when: the register's history.
CREATE TABLE complaint_events (
    id        TEXT PRIMARY KEY,
    case_id   TEXT NOT NULL REFERENCES complaint_cases (id),
    user_id   TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    payload   TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX complaint_events_case ON complaint_events (case_id, at);

-- Notifications to departments (overdue steps and cases), raised once each.
CREATE TABLE notifications (
    key        TEXT PRIMARY KEY,
    department TEXT NOT NULL,
    case_id    TEXT NOT NULL,
    message    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX notifications_department ON notifications (department, created_at);

-- §4.9 settlements after closing: return forms and allowance certificates.
CREATE TABLE settlements (
    id         TEXT PRIMARY KEY,
    case_id    TEXT NOT NULL REFERENCES complaint_cases (id),
    kind       TEXT NOT NULL,
    body       TEXT NOT NULL,
    version    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX settlements_case ON settlements (case_id);

-- §4.8 monthly reviews and the personnel notices they produce.
CREATE TABLE monthly_reviews (
    month        TEXT PRIMARY KEY,
    confirmed_by TEXT NOT NULL,
    confirmed_at BIGINT NOT NULL,
    notice       TEXT NOT NULL
);

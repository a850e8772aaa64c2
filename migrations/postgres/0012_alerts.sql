-- Deadline alerts: an escalation ladder per kind of deadline (kept when an admin changes it),
-- the channels messages go to (robots and mail, per department), the outbox (one row per
-- alert and channel, written once: the key names the alert), each channel's pause after a
-- robot said "too fast", the messages it was sent in the current minute (robots take 20 a
-- minute), and the back office's bell (one row per alert and person).
CREATE TABLE alert_ladders (
    kind       TEXT PRIMARY KEY,
    rungs      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE alert_channels (
    id           TEXT PRIMARY KEY,
    department   TEXT NOT NULL,
    audience     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    target       TEXT NOT NULL,
    secret       TEXT,
    paused_until BIGINT NOT NULL,
    window_start BIGINT NOT NULL DEFAULT 0,
    window_count BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);
CREATE TABLE alert_outbox (
    alert_key     TEXT NOT NULL,
    channel_id    TEXT NOT NULL,
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    state         TEXT NOT NULL,
    attempts      BIGINT NOT NULL,
    next_at       BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    sent_at       BIGINT,
    last_error    TEXT,
    PRIMARY KEY (alert_key, channel_id)
);
CREATE INDEX alert_outbox_due ON alert_outbox (state, next_at);
CREATE TABLE alert_bell (
    alert_key  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    link       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at    BIGINT,
    PRIMARY KEY (alert_key, user_id)
);
CREATE INDEX alert_bell_user ON alert_bell (user_id, read_at);

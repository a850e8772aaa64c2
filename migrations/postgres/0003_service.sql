-- Service work (§2): customers and products reused across jobs, and the custody of products
-- taken back for repair (客户产品进出登记簿).
CREATE TABLE customers (
    id         TEXT PRIMARY KEY,
    region     TEXT NOT NULL,
    name       TEXT NOT NULL,
    address    TEXT NOT NULL,
    phone      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX customers_region ON customers (region, name);

CREATE TABLE products (
    id              TEXT PRIMARY KEY,
    customer_id     TEXT NOT NULL REFERENCES customers (id),
    name            TEXT NOT NULL,
    model           TEXT NOT NULL,
    spec            TEXT NOT NULL,
    serial          TEXT NOT NULL,
    purchase_date   TEXT NOT NULL,
    purchase_place  TEXT NOT NULL,
    warranty_months BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX products_customer ON products (customer_id);

CREATE TABLE receipts (
    id               TEXT PRIMARY KEY REFERENCES documents (id),
    number           TEXT NOT NULL UNIQUE,
    region           TEXT NOT NULL,
    technician       TEXT NOT NULL,
    location         TEXT NOT NULL,
    promised_date    TEXT,
    will_miss_at     BIGINT,
    customer_told_at BIGINT,
    version          BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX receipts_location ON receipts (location);

CREATE TABLE custody_events (
    id         TEXT PRIMARY KEY,
    receipt_id TEXT NOT NULL REFERENCES receipts (id),
    event      TEXT NOT NULL,
    location   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    note       TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX custody_events_receipt ON custody_events (receipt_id, at);

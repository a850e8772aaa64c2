-- The regional offices as a managed list (an admin adds them; accounts, customers and imports
-- must name one). Seeded with every region already in use, so an upgrade keeps working.
CREATE TABLE regions (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO regions (code, name, created_at)
SELECT region, region, 0 FROM (
    SELECT region FROM users WHERE region IS NOT NULL AND region <> ''
    UNION SELECT region FROM customers WHERE region <> ''
) used;

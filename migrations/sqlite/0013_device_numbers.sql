-- Each registered phone gets a short number (1, 2, ...) that its receipt numbers carry, so a
-- receipt number can be read out over the phone: R007-00012 is phone 7's twelfth receipt.
ALTER TABLE devices ADD COLUMN number BIGINT;
UPDATE devices SET number = (
    SELECT COUNT(*) FROM devices d2
    WHERE d2.registered_at < devices.registered_at
       OR (d2.registered_at = devices.registered_at AND d2.id <= devices.id)
);
DELETE FROM counters WHERE name = 'device_number';
INSERT INTO counters (name, value)
SELECT 'device_number', COALESCE(MAX(number), 0) FROM devices;
CREATE UNIQUE INDEX devices_number ON devices (number);

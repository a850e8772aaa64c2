-- The bell keeps each alert in English as well, for those who read the pages in English; the
-- chat groups and mail keep the Chinese. Alerts written before this have none ('').
ALTER TABLE alert_bell ADD COLUMN title_en TEXT NOT NULL DEFAULT '';
ALTER TABLE alert_bell ADD COLUMN body_en TEXT NOT NULL DEFAULT '';

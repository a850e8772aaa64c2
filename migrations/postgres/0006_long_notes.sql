-- A note can be thousands of characters. The (path, value) index put every note into the index
-- as well: on PostgreSQL a value over a third of a page (~2.7 KB, about 900 Chinese characters)
-- cannot be indexed at all, so such a visit could not be stored. Nothing reads through that
-- index; signatures are found by doc_fields_blob.
DROP INDEX doc_fields_path;

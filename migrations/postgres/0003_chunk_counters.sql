-- Each batch adds its outcomes to its own chunk's counters, not to the import's
-- row: every technician and outcome written checks its foreign key on that row,
-- and a row that every batch of every worker updated made those checks several
-- times dearer. An import's counters are its own (outcomes recorded outside a
-- chunk, and those of imports from before this migration) plus its chunks'.
ALTER TABLE import_chunks ADD COLUMN created_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_chunks ADD COLUMN updated_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_chunks ADD COLUMN skipped_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_chunks ADD COLUMN valid_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_chunks ADD COLUMN failed_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_chunks ADD COLUMN not_processed_rows BIGINT NOT NULL DEFAULT 0;

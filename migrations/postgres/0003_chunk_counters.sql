-- Each batch adds its outcomes to its own chunk's counters, not to the import's
-- row, which every batch of every worker otherwise updated under lock (so that
-- batches of one import committed one at a time) and which every technician and
-- outcome written references by foreign key. An import's counters are its own
-- (outcomes recorded outside a chunk, and those of imports from before this
-- migration) plus its chunks'.
-- Processes from before this migration read the import's counters alone:
-- upgrade the API and every worker together.
ALTER TABLE import_chunks ADD COLUMN created_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_chunks ADD COLUMN updated_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_chunks ADD COLUMN skipped_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_chunks ADD COLUMN valid_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_chunks ADD COLUMN failed_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_chunks ADD COLUMN not_processed_rows BIGINT NOT NULL DEFAULT 0;
-- When a worker last claimed the chunk: the reconciler holds back the stale
-- pending chunks of an import whose chunks are being claimed (they are queued,
-- not lost).
ALTER TABLE import_chunks ADD COLUMN claimed_at BIGINT;

-- 1 when, at the moment the import's plan was saved, the organization had no
-- technicians and no other import queued or running. Every email of such an
-- import is new unless an import started later (or a technician edit) takes it
-- meanwhile, and with `on_existing = fail` that race already ends as
-- `email_taken` at the insert: those imports (not dry runs, seats unlimited)
-- skip the existing-email lookup of every batch (one index probe per row).
-- 0 for imports planned before this migration, and when older workers plan:
-- they look up every email, as before.
ALTER TABLE imports ADD COLUMN directory_empty_at_plan INTEGER NOT NULL DEFAULT 0;

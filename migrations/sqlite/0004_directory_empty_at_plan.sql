-- 1 when the organization had no technicians at the moment the import's plan was
-- saved. Every email of such an import is new unless another import (or a
-- technician edit) takes it meanwhile, and with `on_existing = fail` that race
-- already ends as `email_taken` at the insert: those imports skip the
-- existing-email lookup of every batch (one index probe per row).
-- 0 for imports planned before this migration, and when older workers plan:
-- they look up every email, as before.
ALTER TABLE imports ADD COLUMN directory_empty_at_plan INTEGER NOT NULL DEFAULT 0;

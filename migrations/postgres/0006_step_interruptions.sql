-- How many times an import-wide step (plan, or finalize once its chunks are
-- over) was claimed again while an earlier claim was never given back: its
-- process died holding it (killed, or out of memory). The second time, the
-- import fails instead of running the step a third time: a file that kills
-- its reader would otherwise take its process down at every restart until
-- `step_attempts` ran out (issue 15). Transient failures give their claim
-- back and never count here.
ALTER TABLE imports ADD COLUMN step_interruptions BIGINT NOT NULL DEFAULT 0;

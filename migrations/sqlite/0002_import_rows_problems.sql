-- Row outcomes are listed by status to find the rows that did not take effect.
-- Indexing every row's status cost an index entry per imported row, and the
-- listing's query could not use it for one status; only these rows are indexed now.
DROP INDEX IF EXISTS import_rows_status;
CREATE INDEX import_rows_problems ON import_rows (import_id, status, row_no)
    WHERE status IN ('failed', 'not_processed', 'skipped');

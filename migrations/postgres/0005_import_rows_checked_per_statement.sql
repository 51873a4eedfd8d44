-- An outcome's import is checked once per statement instead of once per row.
--
-- The foreign key import_rows.import_id -> imports(id) ran one trigger query per
-- written outcome (a lookup and a FOR KEY SHARE lock of the import's row, the
-- same row for every outcome of the import). Measured on PostgreSQL 15, 100,000
-- outcomes in 50 COPY batches of 2,000: 1.26 s with the foreign key, 0.57 s with
-- the statement-level check below, 0.43 s with no check (docs/performance.md).
-- Every imported row writes one outcome, so this was the largest part of
-- PostgreSQL's work that the `COPY` floor does not share.
--
-- The triggers keep what the foreign key promised:
-- * an outcome names an existing import: after each INSERT or UPDATE statement,
--   the imports it names are locked FOR KEY SHARE, as the foreign key locked
--   them (so none can be deleted before the writer commits), and the statement
--   fails with foreign_key_violation (23503) if one does not exist;
-- * deleting an import deletes its outcomes (ON DELETE CASCADE), after the
--   statement, including deletes cascaded from its organization;
-- * an import's id cannot change while it could have outcomes (the foreign key
--   had no ON UPDATE action; ids never change).
-- SQLite keeps its foreign key: there it is an index probe, not a query.
-- Unlike the key, TRUNCATE imports does not reach import_rows (nothing truncates
-- imports). The functions resolve tables through the search_path of this
-- migration, whoever writes.
ALTER TABLE import_rows DROP CONSTRAINT import_rows_import_id_fkey;

CREATE FUNCTION import_rows_check_import() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
    missing TEXT;
BEGIN
    PERFORM 1 FROM imports i
     WHERE i.id IN (SELECT DISTINCT n.import_id FROM written n)
       FOR KEY SHARE OF i;
    SELECT n.import_id INTO missing
      FROM (SELECT DISTINCT import_id FROM written) n
     WHERE NOT EXISTS (SELECT 1 FROM imports i WHERE i.id = n.import_id)
     LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('import_rows: import %s does not exist', missing),
            TABLE = 'import_rows';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER import_rows_check_import_on_insert
    AFTER INSERT ON import_rows REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION import_rows_check_import();
CREATE TRIGGER import_rows_check_import_on_update
    AFTER UPDATE ON import_rows REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION import_rows_check_import();

CREATE FUNCTION imports_delete_rows() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM import_rows r USING gone g WHERE r.import_id = g.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER imports_delete_rows
    AFTER DELETE ON imports REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION imports_delete_rows();

CREATE FUNCTION imports_keep_id() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    RAISE foreign_key_violation USING
        MESSAGE = format('imports: the id of import %s cannot change', OLD.id),
        TABLE = 'imports';
END
$$;

CREATE TRIGGER imports_keep_id
    BEFORE UPDATE OF id ON imports
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION imports_keep_id();

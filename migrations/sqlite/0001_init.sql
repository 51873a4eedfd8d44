-- Roster schema (SQLite, the embedded default). Same tables and columns as
-- migrations/postgres; times are unix epoch milliseconds, import ids UUID text.

CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

-- One row per organization; NULL seats mean unlimited.
CREATE TABLE settings (
    org_id                 INTEGER PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    min_password_length    INTEGER NOT NULL DEFAULT 8,
    min_password_strength  INTEGER NOT NULL DEFAULT 2,
    force_password_change  INTEGER NOT NULL DEFAULT 1,
    standard_seats         INTEGER,
    mobile_seats           INTEGER,
    max_rows_per_file      INTEGER NOT NULL DEFAULT 1000000
);

CREATE TABLE technician_groups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id      INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    parent_id   INTEGER REFERENCES technician_groups(id),
    created_at  INTEGER NOT NULL
);
CREATE INDEX technician_groups_org ON technician_groups (org_id, id);

CREATE TABLE admins (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id      INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    email_key   TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('master', 'admin')),
    -- SHA-256 of the bearer token, hex; the token itself is never stored.
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    UNIQUE (org_id, email_key)
);

CREATE TABLE admin_groups (
    admin_id  INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    group_id  INTEGER NOT NULL REFERENCES technician_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (admin_id, group_id)
);

CREATE TABLE imports (
    id               TEXT PRIMARY KEY,
    org_id           INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    admin_id         INTEGER NOT NULL REFERENCES admins(id),
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    file_name        TEXT NOT NULL,
    format           TEXT NOT NULL,
    layout           TEXT,
    -- The uploaded header cells (JSON array), for the result spreadsheet.
    header           TEXT,
    group_id         INTEGER REFERENCES technician_groups(id),
    dry_run          INTEGER NOT NULL,
    on_existing      TEXT NOT NULL,
    upload_bytes     INTEGER NOT NULL,
    idempotency_key  TEXT,
    total_rows       INTEGER,
    processed_rows   INTEGER NOT NULL DEFAULT 0,
    created_rows     INTEGER NOT NULL DEFAULT 0,
    updated_rows     INTEGER NOT NULL DEFAULT 0,
    skipped_rows     INTEGER NOT NULL DEFAULT 0,
    valid_rows       INTEGER NOT NULL DEFAULT 0,
    failed_rows      INTEGER NOT NULL DEFAULT 0,
    not_processed_rows INTEGER NOT NULL DEFAULT 0,
    chunk_count      INTEGER,
    chunks_done      INTEGER NOT NULL DEFAULT 0,
    error_code       TEXT,
    error_message    TEXT,
    has_result       INTEGER NOT NULL DEFAULT 0,
    -- TRUE once the upload and chunk objects (plaintext passwords) are deleted.
    files_purged     INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    -- Lease over the import-wide steps (plan, finalize).
    lease_owner      TEXT,
    lease_until      INTEGER,
    step_attempts    INTEGER NOT NULL DEFAULT 0,
    enqueued_at      INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER
);
CREATE INDEX imports_org_created ON imports (org_id, created_at);
CREATE INDEX imports_unfinished ON imports (status) WHERE status IN ('queued', 'running');
CREATE UNIQUE INDEX imports_idempotency ON imports (org_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE import_chunks (
    import_id    TEXT NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    chunk_no     INTEGER NOT NULL,
    first_row    INTEGER NOT NULL,
    last_row     INTEGER NOT NULL,
    row_count    INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done')),
    lease_owner  TEXT,
    lease_until  INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    enqueued_at  INTEGER NOT NULL,
    PRIMARY KEY (import_id, chunk_no)
);
CREATE INDEX import_chunks_open ON import_chunks (status, lease_until) WHERE status <> 'done';

CREATE TABLE technicians (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id                INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    nickname              TEXT,
    email                 TEXT NOT NULL,
    email_key             TEXT NOT NULL,
    sso_id                TEXT,
    description           TEXT,
    password_hash         TEXT NOT NULL,
    enabled               INTEGER NOT NULL,
    standard_license      INTEGER NOT NULL,
    mobile_license        INTEGER NOT NULL,
    group_id              INTEGER NOT NULL REFERENCES technician_groups(id),
    must_change_password  INTEGER NOT NULL,
    import_id             TEXT REFERENCES imports(id) ON DELETE SET NULL,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
-- The backstop for "each row takes effect once": one email per organization.
CREATE UNIQUE INDEX technicians_org_email ON technicians (org_id, email_key);
CREATE INDEX technicians_org_group ON technicians (org_id, group_id, id);

-- One outcome per (import, row): the mechanism that makes a re-run chunk skip done rows.
CREATE TABLE import_rows (
    import_id      TEXT NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    row_no         INTEGER NOT NULL,
    email          TEXT NOT NULL,
    status         TEXT NOT NULL,
    technician_id  INTEGER,
    errors         TEXT NOT NULL,
    PRIMARY KEY (import_id, row_no)
);
CREATE INDEX import_rows_status ON import_rows (import_id, status, row_no);

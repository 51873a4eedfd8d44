-- Roster schema (PostgreSQL). Times are unix epoch milliseconds (BIGINT) and
-- import ids are UUID text, so the same queries run on PostgreSQL and SQLite.
-- Flags are 0/1 integers: sqlx's Any driver, which runs the same queries on both
-- engines, cannot carry SQLite booleans.

CREATE TABLE organizations (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

-- One row per organization; NULL seats mean unlimited.
CREATE TABLE settings (
    org_id                 BIGINT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    min_password_length    BIGINT NOT NULL DEFAULT 8,
    min_password_strength  BIGINT NOT NULL DEFAULT 2,
    force_password_change  SMALLINT NOT NULL DEFAULT 1,
    standard_seats         BIGINT,
    mobile_seats           BIGINT,
    max_rows_per_file      BIGINT NOT NULL DEFAULT 1000000
);

CREATE TABLE technician_groups (
    id          BIGSERIAL PRIMARY KEY,
    org_id      BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    parent_id   BIGINT REFERENCES technician_groups(id),
    created_at  BIGINT NOT NULL
);
CREATE INDEX technician_groups_org ON technician_groups (org_id, id);

CREATE TABLE admins (
    id          BIGSERIAL PRIMARY KEY,
    org_id      BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    email_key   TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('master', 'admin')),
    -- SHA-256 of the bearer token, hex; the token itself is never stored.
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    UNIQUE (org_id, email_key)
);

CREATE TABLE admin_groups (
    admin_id  BIGINT NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    group_id  BIGINT NOT NULL REFERENCES technician_groups(id) ON DELETE CASCADE,
    PRIMARY KEY (admin_id, group_id)
);

CREATE TABLE imports (
    id               TEXT PRIMARY KEY,
    org_id           BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    admin_id         BIGINT NOT NULL REFERENCES admins(id),
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    file_name        TEXT NOT NULL,
    format           TEXT NOT NULL,
    layout           TEXT,
    -- The uploaded header cells (JSON array), for the result spreadsheet.
    header           TEXT,
    group_id         BIGINT REFERENCES technician_groups(id),
    dry_run          SMALLINT NOT NULL,
    on_existing      TEXT NOT NULL,
    upload_bytes     BIGINT NOT NULL,
    idempotency_key  TEXT,
    total_rows       BIGINT,
    processed_rows   BIGINT NOT NULL DEFAULT 0,
    created_rows     BIGINT NOT NULL DEFAULT 0,
    updated_rows     BIGINT NOT NULL DEFAULT 0,
    skipped_rows     BIGINT NOT NULL DEFAULT 0,
    valid_rows       BIGINT NOT NULL DEFAULT 0,
    failed_rows      BIGINT NOT NULL DEFAULT 0,
    not_processed_rows BIGINT NOT NULL DEFAULT 0,
    chunk_count      BIGINT,
    chunks_done      BIGINT NOT NULL DEFAULT 0,
    error_code       TEXT,
    error_message    TEXT,
    has_result       SMALLINT NOT NULL DEFAULT 0,
    -- TRUE once the upload and chunk objects (plaintext passwords) are deleted.
    files_purged     SMALLINT NOT NULL DEFAULT 0,
    cancel_requested SMALLINT NOT NULL DEFAULT 0,
    -- Lease over the import-wide steps (plan, finalize).
    lease_owner      TEXT,
    lease_until      BIGINT,
    step_attempts    BIGINT NOT NULL DEFAULT 0,
    enqueued_at      BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT
);
CREATE INDEX imports_org_created ON imports (org_id, created_at DESC);
CREATE INDEX imports_unfinished ON imports (status) WHERE status IN ('queued', 'running');
CREATE UNIQUE INDEX imports_idempotency ON imports (org_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE import_chunks (
    import_id    TEXT NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    chunk_no     BIGINT NOT NULL,
    first_row    BIGINT NOT NULL,
    last_row     BIGINT NOT NULL,
    row_count    BIGINT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done')),
    lease_owner  TEXT,
    lease_until  BIGINT,
    attempts     BIGINT NOT NULL DEFAULT 0,
    enqueued_at  BIGINT NOT NULL,
    PRIMARY KEY (import_id, chunk_no)
);
CREATE INDEX import_chunks_open ON import_chunks (status, lease_until) WHERE status <> 'done';

CREATE TABLE technicians (
    id                    BIGSERIAL PRIMARY KEY,
    org_id                BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    nickname              TEXT,
    email                 TEXT NOT NULL,
    email_key             TEXT NOT NULL,
    sso_id                TEXT,
    description           TEXT,
    password_hash         TEXT NOT NULL,
    enabled               SMALLINT NOT NULL,
    standard_license      SMALLINT NOT NULL,
    mobile_license        SMALLINT NOT NULL,
    group_id              BIGINT NOT NULL REFERENCES technician_groups(id),
    must_change_password  SMALLINT NOT NULL,
    import_id             TEXT REFERENCES imports(id) ON DELETE SET NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
-- The backstop for "each row takes effect once": one email per organization.
CREATE UNIQUE INDEX technicians_org_email ON technicians (org_id, email_key);
CREATE INDEX technicians_org_group ON technicians (org_id, group_id, id);

-- One outcome per (import, row): the mechanism that makes a re-run chunk skip done rows.
CREATE TABLE import_rows (
    import_id      TEXT NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    row_no         BIGINT NOT NULL,
    email          TEXT NOT NULL,
    status         TEXT NOT NULL,
    technician_id  BIGINT,
    errors         TEXT NOT NULL,
    PRIMARY KEY (import_id, row_no)
);
CREATE INDEX import_rows_status ON import_rows (import_id, status, row_no);

-- Directory synchronization (API.md v1.1): sources, the technicians each one
-- provisioned, and sync runs as imports of kind 'sync'.

-- A directory group that feeds one technician group, named by its key
-- (e.g. 'ad:CN=Support,OU=Groups,DC=acme,DC=example').
CREATE TABLE sync_sources (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id      BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    source_key  TEXT NOT NULL,
    group_id    BIGINT NOT NULL REFERENCES technician_groups(id),
    created_at  BIGINT NOT NULL,
    UNIQUE (org_id, source_key)
);

-- What a source provisioned: (source, external id) per technician, and the
-- group the source last put it in (a technician whose group_id differs was
-- moved in Roster since: only its status follows the directory then).
ALTER TABLE technicians ADD COLUMN sync_source_id BIGINT REFERENCES sync_sources(id);
ALTER TABLE technicians ADD COLUMN external_id TEXT;
ALTER TABLE technicians ADD COLUMN sync_group_id BIGINT;
CREATE UNIQUE INDEX technicians_sync_link ON technicians (sync_source_id, external_id)
    WHERE sync_source_id IS NOT NULL;

-- 'file' or 'sync'. A sync run waiting for a master's approval stays 'queued'
-- with awaiting_approval = 1 (the API shows it as 'needs_approval'); approved
-- = 1 lets its plan pass the safety valves.
ALTER TABLE imports ADD COLUMN kind TEXT NOT NULL DEFAULT 'file';
ALTER TABLE imports ADD COLUMN sync_source_id BIGINT REFERENCES sync_sources(id);
ALTER TABLE imports ADD COLUMN awaiting_approval SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN approved SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN unchanged_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN disabled_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_chunks ADD COLUMN unchanged_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_chunks ADD COLUMN disabled_rows BIGINT NOT NULL DEFAULT 0;
-- Two snapshots of one source never run at once: the second is refused (409).
CREATE UNIQUE INDEX imports_one_sync_run ON imports (sync_source_id)
    WHERE sync_source_id IS NOT NULL AND status IN ('queued', 'running');
CREATE INDEX imports_sync_source ON imports (sync_source_id, created_at);

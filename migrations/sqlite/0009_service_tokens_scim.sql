-- Service tokens, the sync default password, and SCIM links (API.md v1.1,
-- "Directory synchronization" and "SCIM 2.0 for Okta and Microsoft Entra ID").
--
-- A service token calls the sync and SCIM routes only. Only the SHA-256 (hex)
-- of the token is kept; a revoked token keeps its row (revoked_at set) and
-- authorizes nothing. `group_id` names the technician group a SCIM client
-- provisions into (NULL: no SCIM).
CREATE TABLE service_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id      INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    group_id    INTEGER REFERENCES technician_groups(id),
    token_hash  TEXT NOT NULL UNIQUE,
    created_by  INTEGER REFERENCES admins(id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX service_tokens_org ON service_tokens (org_id, id);

-- The first password of technicians a directory provisions: a PHC hash, copied
-- to each of them (with a forced change); the password itself is never kept.
ALTER TABLE settings ADD COLUMN sync_default_password_hash TEXT;

-- A technician provisioned over SCIM, by the technician group of the token
-- that provisioned it: every SCIM lookup is per (organization, group). The
-- SCIM id is a UUID of its own (not the technician's id); ending the link
-- (SCIM DELETE) removes the row, never the technician.
CREATE TABLE scim_users (
    id             TEXT PRIMARY KEY,
    org_id         INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    group_id       INTEGER NOT NULL REFERENCES technician_groups(id),
    technician_id  INTEGER NOT NULL REFERENCES technicians(id) ON DELETE CASCADE,
    external_id    TEXT,
    -- name.givenName and name.familyName as the identity provider sent them
    -- (Roster's Name is name.formatted, or displayName, or both of these).
    given_name     TEXT,
    family_name    TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
-- A technician has at most one SCIM link in its organization.
CREATE UNIQUE INDEX scim_users_technician ON scim_users (org_id, technician_id);
CREATE INDEX scim_users_group ON scim_users (org_id, group_id, created_at, id);
CREATE INDEX scim_users_external ON scim_users (org_id, group_id, external_id);

-- An upload under way holds one of its organization's places for active
-- imports (ROSTER_MAX_ACTIVE_IMPORTS) from before its body is read until it is
-- registered as an import (in the same transaction) or refused. Places are
-- counted here, in the database every API instance shares, together with the
-- queued and running imports. A place whose API process died before freeing it
-- lapses at expires_at (epoch milliseconds).
CREATE TABLE upload_slots (
    id          TEXT PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX upload_slots_org ON upload_slots (org_id);

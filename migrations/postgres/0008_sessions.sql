-- People sign in (API.md v1.1, "People sign in: sessions for the console").
--
-- An administrator may have a sign-in password (an argon2id PHC string; NULL:
-- token only). Signing in names no organization, so an administrator's email
-- is unique across the whole service.
ALTER TABLE admins ADD COLUMN password_hash TEXT;
CREATE UNIQUE INDEX admins_email_key_everywhere ON admins (email_key);

-- A signed-in browser. The cookie carries 256 random bits; only their SHA-256
-- (hex) is kept. A session ends at `expires_at` (absolute lifetime), or when
-- unused for the idle time since `last_seen_at`, or when signed out (deleted).
CREATE TABLE sessions (
    id_hash       TEXT PRIMARY KEY,
    admin_id      BIGINT NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    -- Sent back as X-CSRF-Token by the console on every change.
    csrf_token    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX sessions_admin ON sessions (admin_id);

-- Failed sign-ins by email key, counted over a window by every API instance.
CREATE TABLE sign_in_failures (
    email_key  TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_email ON sign_in_failures (email_key, at);

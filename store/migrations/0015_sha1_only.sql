-- Users whose SCRAM keys are SHA-1 only (imported from ejabberd's or
-- Prosody's SCRAM store) cannot answer SCRAM-SHA-256, so their domain does
-- not offer it while any is left (docs/xmpp.md). This index holds just
-- those users, so the question costs one lookup per stream; it empties as
-- they log in with PLAIN or change their password.
CREATE INDEX users_sha1_only ON users (domain_id)
    WHERE length(sha1_stored) > 0 AND (sha256_stored IS NULL OR length(sha256_stored) = 0);

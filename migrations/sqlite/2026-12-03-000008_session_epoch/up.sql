-- A token carries its user's session epoch; bumping it (deactivation, role change, password reset,
-- sign-out everywhere) ends every token issued before, reads included.
ALTER TABLE users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;

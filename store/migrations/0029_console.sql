-- The operator's console lists failed changes and login failures, newest
-- first, on every page view: partial and per-command indexes keep those
-- reads off a scan of every change and audit line ever written.
CREATE INDEX changes_failed ON changes(id) WHERE status = 'failed';
CREATE INDEX audit_log_command ON audit_log(command, id);

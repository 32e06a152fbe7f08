-- SQLite migrations 0025 and 0029: the audit log read per account and per
-- command, newest first, and the failed changes the console lists.
CREATE INDEX audit_log_account_time ON audit_log(account_id, time, id);
CREATE INDEX changes_failed ON changes(id) WHERE status = 'failed';
CREATE INDEX audit_log_command ON audit_log(command, id);

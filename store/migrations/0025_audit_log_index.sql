-- The audit log is read per account, newest first (Openfire's security
-- audit log, commands.OpenfireSecurityLog): one index for that order.
CREATE INDEX audit_log_account_time ON audit_log(account_id, time, id);

-- A failed change keeps its error as the dialects need it (kind, reason,
-- argument, message as JSON), so synchronous dialects answer with the
-- change's own error instead of parsing its text; and every change records
-- who queued it (the audit trail of API changes: "key:12", an admin JID, ...).
ALTER TABLE changes ADD COLUMN error_code TEXT NOT NULL DEFAULT '';
ALTER TABLE changes ADD COLUMN actor TEXT NOT NULL DEFAULT '';

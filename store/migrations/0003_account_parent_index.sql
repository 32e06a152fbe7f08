-- AccountTree walks accounts by parent.
CREATE INDEX accounts_parent ON accounts(parent_id);

-- The SCRAM keys of a queued change's sealed password, derived in the
-- background once the change is acknowledged, so the batch's apply need not
-- derive them (issue 17). A cache, sealed like the password: NULL until the
-- deriver gets to the change, and NULL again once the change is final.
ALTER TABLE changes ADD COLUMN derived BLOB;

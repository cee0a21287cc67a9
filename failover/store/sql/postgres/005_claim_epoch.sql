-- Every claim of a delivery gets the next epoch, so a daemon's writes are fenced on the claim
-- it holds, not only on its name (a daemon can lose a claim and take the same delivery again),
-- and every attempt records the daemon and claim that made it: a copy found twice at a
-- platform can be traced to the claims that sent it.
ALTER TABLE deliveries ADD COLUMN claim_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN claimed_by TEXT;
ALTER TABLE attempts ADD COLUMN claim_epoch INTEGER;

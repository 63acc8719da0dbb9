-- 0017: only a dynamic code's redemptions (form 0) are looked up by
-- their cti: the online replay check and the published redeemed codes.
-- A static code's redemptions leave the index, which is written for
-- fewer records.
DROP INDEX records_by_cti;
CREATE INDEX records_by_cti ON records (cti) WHERE kind = 'redemption' AND form = 0;

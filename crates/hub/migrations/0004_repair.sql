-- 0004: an exclusion can be withdrawn early (a court reversed the record,
-- or the subject's credit was repaired, 信用修复). The withdrawal keeps the
-- day it took effect and the decision's reference; `until` becomes that day,
-- so terminals get the shortened exclusion in the next delta.
ALTER TABLE exclusions ADD COLUMN withdrawn_on TEXT;
ALTER TABLE exclusions ADD COLUMN repair_ref TEXT;

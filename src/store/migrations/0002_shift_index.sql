-- 0002: the staff screen's shift totals and record list read one
-- operator's records over a time range.
CREATE INDEX journal_operator_at ON journal (operator, at);

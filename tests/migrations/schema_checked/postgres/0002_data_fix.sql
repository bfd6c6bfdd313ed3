-- backfill: skip (a data fix: it shapes no table)
DO $$
BEGIN
    UPDATE events SET amount = 0 WHERE amount < 0;
END
$$;

ALTER TABLE user_stats DROP COLUMN total_amount;

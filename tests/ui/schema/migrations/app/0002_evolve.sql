ALTER TABLE user_stats ADD COLUMN last_kind VARCHAR(20);
ALTER TABLE users RENAME COLUMN name TO full_name;
DROP TABLE old_stats;

CREATE TABLE no_key_stats (user_id BIGINT NOT NULL, event_count BIGINT NOT NULL);
CREATE TABLE pair_stats (user_id BIGINT NOT NULL, kind VARCHAR(20) NOT NULL, event_count BIGINT NOT NULL, PRIMARY KEY (user_id, kind));
CREATE TABLE strict_stats (user_id BIGINT PRIMARY KEY, region TEXT NOT NULL, event_count BIGINT NOT NULL);
CREATE TABLE email_stats (user_id BIGINT NOT NULL, email VARCHAR(255) NOT NULL, event_count BIGINT NOT NULL);
CREATE UNIQUE INDEX email_stats_user_id_key ON email_stats (user_id);
INSERT INTO users (id, email, country) VALUES (0, 'system@example.com', 'ZZ');

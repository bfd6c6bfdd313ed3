-- The demo service's schema (postgres). The derive checks every backfill of examples/service.rs
-- against it at compile time (`migrations = "examples/migrations"`); `--seed` applies it.
CREATE TABLE users (id BIGINT PRIMARY KEY, country TEXT NOT NULL, order_count BIGINT NULL);
CREATE TABLE events (id BIGINT PRIMARY KEY, user_id BIGINT, amount BIGINT NOT NULL);
CREATE INDEX events_user_id ON events (user_id);
CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, status TEXT NOT NULL, total_cents BIGINT NOT NULL);
CREATE TABLE user_stats (user_id BIGINT PRIMARY KEY, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL, last_event_id BIGINT NOT NULL);
CREATE TABLE order_facts (order_id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, country TEXT NOT NULL, total_cents BIGINT NOT NULL);
CREATE TABLE default_settings (user_id BIGINT PRIMARY KEY, theme TEXT NOT NULL, digest TEXT NOT NULL);

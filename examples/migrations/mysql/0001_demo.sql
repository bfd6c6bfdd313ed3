-- The demo service's schema (mysql). The derive checks every backfill of examples/service.rs
-- against it at compile time (`migrations = "examples/migrations"`); `--seed` applies it.
CREATE TABLE users (id BIGINT PRIMARY KEY, country VARCHAR(64) NOT NULL, order_count BIGINT NULL);
CREATE TABLE events (id BIGINT PRIMARY KEY, user_id BIGINT, amount BIGINT NOT NULL);
CREATE INDEX events_user_id ON events (user_id);
CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, status VARCHAR(64) NOT NULL, total_cents BIGINT NOT NULL);
CREATE TABLE user_stats (user_id BIGINT PRIMARY KEY, event_count BIGINT NOT NULL, total_amount BIGINT NOT NULL, last_event_id BIGINT NOT NULL);
CREATE TABLE order_facts (order_id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, country VARCHAR(64) NOT NULL, total_cents BIGINT NOT NULL);
CREATE TABLE default_settings (user_id BIGINT PRIMARY KEY, theme VARCHAR(64) NOT NULL, digest VARCHAR(64) NOT NULL);

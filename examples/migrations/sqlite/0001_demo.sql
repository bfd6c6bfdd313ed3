-- The demo service's schema (sqlite). The derive checks every backfill of examples/service.rs
-- against it at compile time (`migrations = "examples/migrations"`); `--seed` applies it.
CREATE TABLE users (id INTEGER PRIMARY KEY, country TEXT NOT NULL, order_count INTEGER NULL);
CREATE TABLE events (id INTEGER PRIMARY KEY, user_id INTEGER, amount INTEGER NOT NULL);
CREATE INDEX events_user_id ON events (user_id);
CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, status TEXT NOT NULL, total_cents INTEGER NOT NULL);
CREATE TABLE user_stats (user_id INTEGER PRIMARY KEY, event_count INTEGER NOT NULL, total_amount INTEGER NOT NULL, last_event_id INTEGER NOT NULL);
CREATE TABLE order_facts (order_id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, country TEXT NOT NULL, total_cents INTEGER NOT NULL);
CREATE TABLE default_settings (user_id INTEGER PRIMARY KEY, theme TEXT NOT NULL, digest TEXT NOT NULL);

-- The service's first migration: users, their events, and the stats the backfills fill.
CREATE TABLE users (
    id BIGINT PRIMARY KEY,
    email VARCHAR(255) NOT NULL,
    name TEXT,
    country VARCHAR(2) NOT NULL,
    visits INTEGER
);

CREATE TABLE events (
    id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    kind VARCHAR(20) NOT NULL,
    name TEXT,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE user_stats (
    user_id BIGINT NOT NULL,
    event_count BIGINT NOT NULL DEFAULT 0,
    total_amount BIGINT,
    small_count INTEGER NOT NULL DEFAULT 0,
    name TEXT,
    PRIMARY KEY (user_id)
);

CREATE TABLE old_stats (user_id BIGINT PRIMARY KEY);

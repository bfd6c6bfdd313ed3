CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    kind TEXT NOT NULL
);

CREATE TABLE user_stats (
    user_id BIGINT PRIMARY KEY,
    event_count BIGINT NOT NULL,
    total_amount BIGINT NOT NULL DEFAULT 0,
    kind TEXT
);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    kind TEXT NOT NULL
);

CREATE TABLE user_stats (
    user_id INTEGER PRIMARY KEY,
    event_count INTEGER NOT NULL,
    total_amount INTEGER NOT NULL DEFAULT 0,
    kind TEXT
);

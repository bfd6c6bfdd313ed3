CREATE TABLE events (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, email VARCHAR(255) NOT NULL);
CREATE TABLE user_stats (
    user_id BIGINT NOT NULL,
    email VARCHAR(255) NOT NULL,
    event_count BIGINT NOT NULL,
    PRIMARY KEY (user_id),
    UNIQUE KEY uk_email (email)
) ENGINE=InnoDB;

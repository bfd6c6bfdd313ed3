DROP TABLE user_stats;
DROP TABLE events;

-- PostgreSQL 0002: counters shared by every instance, for the limits that must hold however
-- many instances serve (failed sign-ins per username and address, accounts created per
-- address). One row per scope and key, counting within a fixed window.

CREATE TABLE rate_counts (
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    window_start BIGINT  NOT NULL, -- unix seconds
    count        INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);

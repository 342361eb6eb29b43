-- 0004 (PostgreSQL): pending invitations, and confusable skeletons recomputed with ICU. The
-- PostgreSQL twin of storage/migrations/0004_invitations.sql (see there for the reasons).
CREATE TABLE invitations (
    room       TEXT COLLATE "C" NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    user_name  TEXT COLLATE "C" NOT NULL,
    invited_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (room, user_name)
);

CREATE INDEX invitations_by_user ON invitations (user_name, created_at);

UPDATE users SET skeleton = NULL;
UPDATE rooms SET skeleton = NULL;

-- 0002 (PostgreSQL): security hardening -- confusable skeletons, room roles, bans, mutes,
-- closed rooms, resume tokens. The PostgreSQL twin of storage/migrations/0002_security.sql.
--
-- Skeletons (tertulia.server.names.skeleton) are computed in Python; rows created before this
-- migration keep NULL until the storage layer fills them in on open. A UNIQUE index ignores
-- NULLs. DM rooms have no skeleton: their names derive from user names that already have one.

ALTER TABLE users ADD COLUMN skeleton TEXT COLLATE "C";
CREATE UNIQUE INDEX users_by_skeleton ON users (skeleton);

ALTER TABLE rooms ADD COLUMN skeleton TEXT COLLATE "C";
CREATE UNIQUE INDEX rooms_by_skeleton ON rooms (skeleton);

ALTER TABLE rooms ADD COLUMN closed BOOLEAN NOT NULL DEFAULT false;

ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('owner', 'moderator', 'member'));

UPDATE members SET role = 'owner'
  FROM rooms
 WHERE rooms.name = members.room
   AND rooms.visibility <> 'dm'
   AND rooms.created_by = members.user_name;

CREATE TABLE bans (
    room       TEXT COLLATE "C" NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    user_name  TEXT COLLATE "C" NOT NULL,
    banned_by  TEXT   NOT NULL,
    reason     TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (room, user_name)
);

-- until: Unix ms when the mute ends; NULL for "until lifted".
CREATE TABLE mutes (
    room       TEXT COLLATE "C" NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    user_name  TEXT COLLATE "C" NOT NULL,
    muted_by   TEXT   NOT NULL,
    until      BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (room, user_name)
);

-- Only the SHA-256 of a resume token is stored. id orders tokens created in the same ms.
CREATE TABLE tokens (
    hash       BYTEA  NOT NULL PRIMARY KEY,
    id         BIGSERIAL,
    user_name  TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX tokens_by_user ON tokens (user_name, created_at);

-- 0002: security hardening -- confusable skeletons, room roles, bans, mutes, closed rooms,
-- resume tokens.
--
-- Skeletons (tertulia.server.names.skeleton) are computed in Python, so existing rows start
-- with NULL and are filled in by the storage layer when it opens the database; a UNIQUE index
-- ignores NULLs, so legacy look-alike pairs (if any) keep working while new ones are refused.
-- Direct-message rooms have no skeleton: their names derive from user names that already have
-- one.

ALTER TABLE users ADD COLUMN skeleton TEXT;
CREATE UNIQUE INDEX users_by_skeleton ON users (skeleton);

ALTER TABLE rooms ADD COLUMN skeleton TEXT;
CREATE UNIQUE INDEX rooms_by_skeleton ON rooms (skeleton);

-- A closed room keeps its name (and its messages, for the operator) but has no members and
-- cannot be joined or recreated.
ALTER TABLE rooms ADD COLUMN closed INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1));

ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('owner', 'moderator', 'member'));

-- Existing rooms: their creator, if still a member, owns them (DMs have no owner).
UPDATE members SET role = 'owner'
 WHERE room IN (SELECT name FROM rooms WHERE visibility != 'dm')
   AND user = (SELECT created_by FROM rooms WHERE rooms.name = members.room);

CREATE TABLE bans (
    room       TEXT    NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    user       TEXT    NOT NULL,
    banned_by  TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room, user)
) WITHOUT ROWID;

-- until: Unix ms when the mute ends; NULL for "until lifted".
CREATE TABLE mutes (
    room       TEXT    NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    user       TEXT    NOT NULL,
    muted_by   TEXT    NOT NULL,
    until      INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room, user)
) WITHOUT ROWID;

-- Resume tokens: only the SHA-256 of the 256-bit random token is stored, so a copy of the
-- database does not let anyone log in.
CREATE TABLE tokens (
    hash       BLOB    NOT NULL PRIMARY KEY,
    user       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX tokens_by_user ON tokens (user, created_at);

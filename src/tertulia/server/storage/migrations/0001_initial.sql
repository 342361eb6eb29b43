-- 0001: users, rooms, memberships, messages, read markers.
--
-- Applied by tertulia.server.storage.sqlite inside one transaction that also sets
-- PRAGMA user_version = 1, so a crash leaves either none or all of it. Migration files must
-- therefore not contain BEGIN/COMMIT. Later tables (sessions/tokens, bans, roles) arrive as
-- 0002_*.sql and onwards; never edit a migration that has shipped.
--
-- Names are stored already normalized by tertulia.server.names, so plain BINARY collation is
-- right. Times are Unix milliseconds. Booleans are 0/1.
--
-- Foreign keys point only at rooms: the storage interface reports an unknown room
-- (UnknownRoomError) but has no "unknown user" error, and the domain layer checks users before
-- writing. Keeping user names free of foreign keys also keeps a message's sender readable after
-- an account is removed later.

CREATE TABLE users (
    name          TEXT    NOT NULL PRIMARY KEY,
    password_hash TEXT    NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- last_seq is the room's message counter: it is bumped in the same transaction that inserts
-- the message, which is what keeps seq gap-free across crashes.
CREATE TABLE rooms (
    name       TEXT    NOT NULL PRIMARY KEY,
    visibility TEXT    NOT NULL CHECK (visibility IN ('public', 'private', 'dm')),
    topic      TEXT    NOT NULL DEFAULT '',
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0)
) WITHOUT ROWID;

CREATE INDEX rooms_by_visibility ON rooms (visibility, name);

CREATE TABLE members (
    room      TEXT    NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    user      TEXT    NOT NULL,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (room, user)
) WITHOUT ROWID;

-- rooms_of(user) walks this index instead of scanning every membership.
CREATE INDEX members_by_user ON members (user, room);

-- Clustered on (room, seq): history pages are range scans of one room.
CREATE TABLE messages (
    room   TEXT    NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    seq    INTEGER NOT NULL CHECK (seq >= 1),
    msg_id TEXT    NOT NULL,
    sender TEXT    NOT NULL,
    ts     INTEGER NOT NULL,
    text   TEXT    NOT NULL,
    kind   TEXT    NOT NULL DEFAULT 'text',
    PRIMARY KEY (room, seq)
) WITHOUT ROWID;

-- Idempotent resend: a client's msg_id is unique per sender across all rooms.
CREATE UNIQUE INDEX messages_sender_msg_id ON messages (sender, msg_id);

CREATE TABLE read_markers (
    user TEXT    NOT NULL,
    room TEXT    NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    seq  INTEGER NOT NULL DEFAULT 0 CHECK (seq >= 0),
    PRIMARY KEY (user, room)
) WITHOUT ROWID;

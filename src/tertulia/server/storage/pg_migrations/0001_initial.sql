-- 0001 (PostgreSQL): users, rooms, memberships, messages, read markers.
--
-- The same model as the SQLite schema (storage/migrations/0001_initial.sql), in PostgreSQL
-- types. Applied by tertulia.server.storage.postgres inside one transaction that also records
-- the version in tertulia_schema, under an advisory lock, so several nodes starting at once
-- migrate exactly once. Never edit a migration that has shipped.
--
-- Names are stored already normalized and compared byte-wise: COLLATE "C" makes ORDER BY
-- agree with SQLite's BINARY collation whatever the database's locale is (and is faster).
-- "user" is a reserved word in PostgreSQL, hence user_name. Times are Unix milliseconds.

CREATE TABLE users (
    name          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    password_hash TEXT    NOT NULL,
    is_admin      BOOLEAN NOT NULL DEFAULT false,
    disabled      BOOLEAN NOT NULL DEFAULT false,
    created_at    BIGINT  NOT NULL
);

-- last_seq is the room's message counter. Every node bumps it in the transaction that inserts
-- the messages (one UPDATE per room per group commit), under the row lock: that is what keeps
-- seq gap-free and increasing with several writers.
CREATE TABLE rooms (
    name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    visibility TEXT   NOT NULL CHECK (visibility IN ('public', 'private', 'dm')),
    topic      TEXT   NOT NULL DEFAULT '',
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    last_seq   BIGINT NOT NULL DEFAULT 0 CHECK (last_seq >= 0)
);

CREATE INDEX rooms_by_visibility ON rooms (visibility, name);

CREATE TABLE members (
    room      TEXT COLLATE "C" NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    user_name TEXT COLLATE "C" NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (room, user_name)
);

CREATE INDEX members_by_user ON members (user_name, room);

CREATE TABLE messages (
    room   TEXT COLLATE "C" NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    seq    BIGINT NOT NULL CHECK (seq >= 1),
    msg_id TEXT   NOT NULL,
    sender TEXT   NOT NULL,
    ts     BIGINT NOT NULL,
    text   TEXT   NOT NULL,
    kind   TEXT   NOT NULL DEFAULT 'text',
    PRIMARY KEY (room, seq)
);

-- Idempotent resend: a client's msg_id is unique per sender across all rooms and all nodes.
CREATE UNIQUE INDEX messages_sender_msg_id ON messages (sender, msg_id);

CREATE TABLE read_markers (
    user_name TEXT COLLATE "C" NOT NULL,
    room      TEXT COLLATE "C" NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    seq       BIGINT NOT NULL DEFAULT 0 CHECK (seq >= 0),
    PRIMARY KEY (user_name, room)
);

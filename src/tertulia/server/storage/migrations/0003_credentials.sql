-- 0003: credential generations -- make logins and credential changes linearizable.
--
-- users.cred_gen is bumped in the same transaction as a password change or a disable. A login
-- remembers the generation it read before hashing the password and is refused if the account
-- has moved on by the time it attaches; a resume token records the generation it was issued
-- under and is dead once the account's generation differs. See docs/security.md
-- (Authentication) and server/credentials.py.

ALTER TABLE users ADD COLUMN cred_gen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN cred_gen INTEGER NOT NULL DEFAULT 0;

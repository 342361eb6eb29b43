-- 0003 (PostgreSQL): credential generations. The PostgreSQL twin of
-- storage/migrations/0003_credentials.sql: users.cred_gen is bumped in the transaction of a
-- password change or a disable; tokens.cred_gen is the generation a token was issued under.

ALTER TABLE users ADD COLUMN cred_gen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN cred_gen BIGINT NOT NULL DEFAULT 0;

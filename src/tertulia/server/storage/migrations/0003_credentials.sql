-- 0003: placeholder so that 0004 applies on this branch (i12-s-names). Helper A (i12-s-login)
-- owns the real 0003_credentials.sql: at merge, take theirs.
SELECT 1;

-- 0004: pending invitations, and confusable skeletons recomputed with ICU.
--
-- An invitation no longer makes the invitee a member: it waits here until the invitee accepts
-- (then it becomes a membership, in one transaction) or declines it. Pending invitations do
-- not count toward max_rooms_per_user; the server bounds them per invitee
-- (limits.max_pending_invitations) and rates them per inviter.
CREATE TABLE invitations (
    room       TEXT    NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    user       TEXT    NOT NULL,
    invited_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room, user)
) WITHOUT ROWID;

CREATE INDEX invitations_by_user ON invitations (user, created_at);

-- Skeletons now come from ICU's SpoofChecker (UTS #39) instead of a shipped table: clear them
-- so that the storage layer recomputes every one on open (a look-alike pair that the new
-- skeletons reveal keeps NULL for its younger name, which is logged; both names keep working).
UPDATE users SET skeleton = NULL;
UPDATE rooms SET skeleton = NULL;

-- Version 3: approvals (a tool call put to a person), and the session's
-- `attention` (a field of the session's `doc`: no column needed).
--
-- As for the other entities, `doc` is the approval exactly as the API returns it,
-- beside the columns its lists filter and sort on. Approvals go with their session
-- (and project); the service deletes them in the same transaction.

CREATE TABLE approvals (
    id          text COLLATE "C" PRIMARY KEY,
    project_id  text COLLATE "C" NOT NULL,
    session_id  text COLLATE "C" NOT NULL,
    status      text COLLATE "C" NOT NULL,
    created_at  bigint NOT NULL,
    expires_at  bigint NOT NULL,
    doc         json NOT NULL
);

CREATE INDEX approvals_by_creation ON approvals (created_at, id);
CREATE INDEX approvals_by_project ON approvals (project_id, created_at, id);
CREATE INDEX approvals_by_session ON approvals (session_id, created_at, id);
CREATE INDEX approvals_by_status ON approvals (status, created_at, id);
-- What every instance's expiry sweep asks for each second: the pending ones due.
-- Partial, so its size is what waits for a person, not every approval ever filed.
CREATE INDEX approvals_pending_by_expiry ON approvals (expires_at) WHERE status = 'pending';

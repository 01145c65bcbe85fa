-- Version 4: runners (a `maestro runner` on some machine, leased by heartbeats).
--
-- As for the other entities, `doc` is the runner exactly as the store keeps it,
-- beside the columns its lists and the lease sweep filter on. A session's claim is
-- `runnerId` in the session's `metadata` (a field of its `doc`: no column).

CREATE TABLE runners (
    id          text COLLATE "C" PRIMARY KEY,
    name        text COLLATE "C" NOT NULL,
    host        text COLLATE "C" NOT NULL,
    status      text COLLATE "C" NOT NULL,
    created_at  bigint NOT NULL,
    expires_at  bigint NOT NULL,
    doc         json NOT NULL
);

CREATE INDEX runners_by_creation ON runners (created_at, id);
CREATE INDEX runners_by_identity ON runners (host, name);
CREATE INDEX runners_by_status ON runners (status, created_at, id);
-- What every instance's lease sweep asks for each second: the active ones due.
CREATE INDEX runners_active_by_expiry ON runners (expires_at) WHERE status = 'active';

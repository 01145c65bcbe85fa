-- Maestro's PostgreSQL schema, version 1.
--
-- Each entity is kept whole in `doc`, exactly as the API returns it (`json`, not
-- `jsonb`: an exact copy of the text, so an export gives back the very bytes that
-- went in). Beside it, the columns the filtered lists search and sort on. Ids and
-- keys use the "C" collation so that ORDER BY created_at, id is the same order as
-- the JSON store's (code-point order of the id breaks ties).

CREATE TABLE projects (
    id          text COLLATE "C" PRIMARY KEY,
    created_at  bigint NOT NULL,
    doc         json NOT NULL
);

CREATE INDEX projects_by_creation ON projects (created_at, id);

CREATE TABLE tasks (
    id          text COLLATE "C" PRIMARY KEY,
    project_id  text COLLATE "C" NOT NULL,
    parent_id   text COLLATE "C",
    status      text COLLATE "C" NOT NULL,
    created_at  bigint NOT NULL,
    session_ids text[] NOT NULL,
    doc         json NOT NULL
);

CREATE INDEX tasks_by_creation ON tasks (created_at, id);
CREATE INDEX tasks_by_project_status ON tasks (project_id, status, created_at, id);
CREATE INDEX tasks_by_project_parent ON tasks (project_id, parent_id, created_at, id);
CREATE INDEX tasks_by_status ON tasks (status, created_at, id);
CREATE INDEX tasks_by_parent ON tasks (parent_id, created_at, id);
CREATE INDEX tasks_by_session ON tasks USING gin (session_ids);

CREATE TABLE sessions (
    id          text COLLATE "C" PRIMARY KEY,
    project_id  text COLLATE "C" NOT NULL,
    status      text COLLATE "C" NOT NULL,
    started_at  bigint NOT NULL,
    task_ids    text[] NOT NULL,
    doc         json NOT NULL
);

CREATE INDEX sessions_by_creation ON sessions (started_at, id);
CREATE INDEX sessions_by_project ON sessions (project_id, started_at, id);
CREATE INDEX sessions_by_status ON sessions (status, started_at, id);
CREATE INDEX sessions_by_task ON sessions USING gin (task_ids);

-- The global event stream: `seq` is gap-free (assigned under the write lock) and
-- `frame` is the exact text every WebSocket client receives.
CREATE TABLE events (
    seq         bigint PRIMARY KEY,
    project_id  text COLLATE "C" NOT NULL,
    frame       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

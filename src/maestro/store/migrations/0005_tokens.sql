-- Version 5: tokens the server minted (a session's, at its claim; a runner token).
--
-- `doc` holds the token as the store keeps it: the SHA-256 of its secret, never
-- the secret. Looked up by id (the part of a token before its dot); the runner
-- tokens are listed by kind.

CREATE TABLE tokens (
    id          text COLLATE "C" PRIMARY KEY,
    kind        text COLLATE "C" NOT NULL,
    created_at  bigint NOT NULL,
    doc         json NOT NULL
);

CREATE INDEX tokens_by_kind ON tokens (kind, created_at, id);

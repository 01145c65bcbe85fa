-- Version 2: the store's identity (see maestro/store/identity.py), one row.
--
-- Made once here, under the migration lock, so every instance on this schema
-- reads the same id; `maestro data import` replaces it with the imported one.

CREATE TABLE store_identity (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    store_id    text NOT NULL
);

INSERT INTO store_identity (store_id)
VALUES (
    'store_' || floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint
    || '_' || substr(md5(random()::text || clock_timestamp()::text), 1, 9)
);

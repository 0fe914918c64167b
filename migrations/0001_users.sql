-- name: 0001_users
-- The users table that the shipped command registry (commands/registry.yaml) writes to.
-- Forward-only; run by the migration runner in the connection's search_path (tables are not
-- schema-qualified, so a test or a tenant can apply it to a schema of its own).
--
-- The email is unique as written (case-sensitive); normalise case in the client if that matters.
-- The shape check is deliberately loose (one @, no spaces): the payload schema validates the format,
-- this only keeps obvious garbage out of rows written by anything other than Kitsune.
-- updated_at is set by the statements that change a row (update_user), not by a trigger.

CREATE TABLE users (
  id         bigserial   PRIMARY KEY,
  name       text        NOT NULL CONSTRAINT users_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
  email      text        NOT NULL CONSTRAINT users_email_key UNIQUE
                         CONSTRAINT users_email_shape CHECK (char_length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The installation's row (table: src/db/migrations/0003_installation.sql).

-- name: InstallationEventIdSecret
SELECT event_id_secret FROM kitsune.installation

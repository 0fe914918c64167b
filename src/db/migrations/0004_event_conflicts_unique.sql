-- A conflict is one event id received with one other payload: the same conflicting record arriving
-- again (a redelivery after a crash between COMMIT and the offset commit, a producer's retry) is the
-- same conflict and stays one row, the first one received. Another conflicting payload is another row.
--
-- Rows that earlier versions recorded twice are reduced to the first before the index is built.

DELETE FROM kitsune.event_conflicts later
 USING kitsune.event_conflicts first
 WHERE first.event_id = later.event_id
   AND first.payload_hash = later.payload_hash
   AND first.id < later.id;

CREATE UNIQUE INDEX event_conflicts_event_id_payload_hash ON kitsune.event_conflicts (event_id, payload_hash);

-- The unique index serves lookups by event_id (its first column).
DROP INDEX kitsune.event_conflicts_event_id;

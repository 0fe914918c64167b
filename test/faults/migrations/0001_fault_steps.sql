-- Every effect of record_step, in the order PostgreSQL applied them (id), and each entity's state.
CREATE TABLE fault_steps (
  id bigserial PRIMARY KEY,
  entity text NOT NULL,
  seq integer NOT NULL,
  op text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX fault_steps_entity ON fault_steps (entity, id);

CREATE TABLE fault_entities (
  entity text PRIMARY KEY,
  last_seq integer NOT NULL,
  steps integer NOT NULL,
  out_of_order integer NOT NULL
);

"""The access log, emergency grants and signed checkpoints: append-only, like the log.

Every read of patient data is a row of the access log, hash-chained and written only
through `log_access` (a SECURITY DEFINER function): the application's role cannot change
a row. Signed audit checkpoints (`careledger.checkpoints`) may be added and read by the
application's role, and a trigger refuses the rest. Applied by schema.migrate, after the
event log's tables (it uses their `refuse_change` trigger function).
"""

from __future__ import annotations

from careledger.infra.append_only import append_only

#: The advisory lock access-log appends take turns on (one chain); beside schema.py's
#: WRITER_LOCK (0x0CA2E) and its migration lock (+1).
ACCESS_LOCK = 0x0CA2E + 3

ACCESS_DDL = append_only("access_log") + append_only("emergency_grants", truncate=False) + r"""

-- At most four hours, whatever the caller asks for.
CREATE OR REPLACE FUNCTION careledger.grant_emergency(
  who uuid, patient uuid, because text, hours double precision DEFAULT 4)
RETURNS timestamptz LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO careledger.emergency_grants (principal, patient_id, reason, expires_at)
  VALUES (who, patient, because,
    clock_timestamp() + make_interval(secs => least(hours, 4) * 3600))
  RETURNING expires_at
$$;

-- hash = sha256(previous hash ‖ the row's fields, '|'-separated, time in µs since epoch).
-- One row per element of the arrays (the reads of several requests: an API process
-- writes those that arrive together in one transaction, one turn on the lock and one
-- commit for all of them), chained in order.
CREATE OR REPLACE FUNCTION careledger.log_accesses(
  who uuid[], who_role text[], patient uuid[], asked text[], was_allowed boolean[],
  on_basis text[], because text[])
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  previous bytea;
  stamped timestamptz;
  new_id bigint;
BEGIN
  IF cardinality(who) IS DISTINCT FROM cardinality(who_role)
     OR cardinality(who) IS DISTINCT FROM cardinality(patient)
     OR cardinality(who) IS DISTINCT FROM cardinality(asked)
     OR cardinality(who) IS DISTINCT FROM cardinality(was_allowed)
     OR cardinality(who) IS DISTINCT FROM cardinality(on_basis)
     OR cardinality(who) IS DISTINCT FROM cardinality(because) THEN
    RAISE EXCEPTION 'log_accesses: the arrays must be as long as each other';
  END IF;
  PERFORM pg_advisory_xact_lock({access_lock});  -- one chain: appends take turns
  SELECT a.hash INTO previous FROM careledger.access_log a ORDER BY a.id DESC LIMIT 1;
  previous := coalesce(previous,
    '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
  FOR i IN 1 .. coalesce(cardinality(who), 0) LOOP
    stamped := clock_timestamp();
    INSERT INTO careledger.access_log (at, principal, role, patient_id, fields, allowed,
      basis, reason, previous_hash, hash)
    VALUES (stamped, who[i], who_role[i], patient[i], asked[i], was_allowed[i], on_basis[i],
      because[i], previous,
      sha256(previous || convert_to(concat_ws('|', who[i]::text, who_role[i],
        coalesce(patient[i]::text, ''), asked[i], was_allowed[i]::text,
        coalesce(on_basis[i], ''), coalesce(because[i], ''),
        ((extract(epoch FROM stamped) * 1000000)::bigint)::text), 'UTF8')))
    RETURNING id, hash INTO new_id, previous;
  END LOOP;
  RETURN new_id;
END $$;

-- One read naming several patients (a list): a wrapper, the definer function writes.
CREATE OR REPLACE FUNCTION careledger.log_access_many(
  who uuid, who_role text, patients uuid[], asked text, was_allowed boolean,
  on_basis text, because text)
RETURNS bigint LANGUAGE sql AS $$
  SELECT careledger.log_accesses(
    array_fill(who, ARRAY[cardinality(patients)]),
    array_fill(who_role, ARRAY[cardinality(patients)]), patients,
    array_fill(asked, ARRAY[cardinality(patients)]),
    array_fill(was_allowed, ARRAY[cardinality(patients)]),
    array_fill(on_basis, ARRAY[cardinality(patients)]),
    array_fill(because, ARRAY[cardinality(patients)]))
$$;

-- One read of one patient (a plain wrapper: the definer function does the writing).
CREATE OR REPLACE FUNCTION careledger.log_access(
  who uuid, who_role text, patient uuid, asked text, was_allowed boolean,
  on_basis text, because text)
RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  RETURN careledger.log_access_many(who, who_role, ARRAY[patient], asked, was_allowed,
    on_basis, because);
END $$;

""".replace("{access_lock}", str(ACCESS_LOCK)) + append_only("checkpoints")

-- depends: 0003.relay-wake

-- Which release's handlers built each generation of the views. A release whose handlers
-- make something else of events already stored raises careledger.projections.VIEWS_VERSION;
-- `careledger migrate` and `careledger status` then say that the live generation wants
-- `careledger projections rebuild`. A generation built before this column was version 1.
ALTER TABLE careledger.view_generations
  ADD COLUMN IF NOT EXISTS views_version integer NOT NULL DEFAULT 1;

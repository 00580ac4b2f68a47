-- depends: 0002.consumer-members

-- Whether a relay rests, waiting to be woken: while one has said so within the last
-- half minute, append_events notifies channel careledger_log at commit. Only then: a
-- NOTIFY in every append serializes the commits of concurrent writers (measured: half
-- the throughput of eight), and a relay that is busy needs no waking.
CREATE TABLE IF NOT EXISTS careledger.relay_wake (
  name text PRIMARY KEY,
  resting boolean NOT NULL DEFAULT false,
  since timestamptz NOT NULL DEFAULT now()
);

"""The consumers' own tables in each generation of the views: how far each partition got,
what went to the dead-letter topic, and the events of kinds this version cannot place."""

from __future__ import annotations

TRACKING_DDL = """
CREATE TABLE IF NOT EXISTS {v}.tracking (
  consumer text NOT NULL,
  topic text NOT NULL,
  partition integer NOT NULL,
  kafka_offset bigint NOT NULL,
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, topic, partition)
);
-- Events of a kind no projection of this version knows (a newer writer's): counted, named
-- in the log once per process, shown by `careledger status`; never silently dropped.
CREATE TABLE IF NOT EXISTS {v}.unknown_kinds (
  consumer text NOT NULL,
  kind text NOT NULL,
  events bigint NOT NULL,
  first_position bigint NOT NULL,
  last_position bigint NOT NULL,
  first_seen timestamptz NOT NULL DEFAULT now(),
  last_seen timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, kind)
);
CREATE TABLE IF NOT EXISTS {v}.dead_letters (
  consumer text NOT NULL,
  topic text NOT NULL,
  partition integer NOT NULL,
  kafka_offset bigint NOT NULL,
  position bigint,
  error_type text NOT NULL,
  attempts integer NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, topic, partition, kafka_offset)
);
"""

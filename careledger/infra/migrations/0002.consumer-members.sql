-- depends: 0001.baseline

-- Which partitions each consumer group member holds, noted by the member every few
-- seconds: the broker's own answer (DescribeGroups) is not given by every broker, and
-- `careledger status --ready consume` must know when a partition has nobody.
CREATE TABLE IF NOT EXISTS careledger.consumer_members (
  group_name text NOT NULL,
  member text NOT NULL,
  topic text NOT NULL,
  partitions int[] NOT NULL,
  seen_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_name, member)
);

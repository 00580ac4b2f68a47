"""Auditors' reads: a record's raw events, an accounting of disclosures, emergency reads."""

"""Auditors' reads: a record's raw events, a patient's accounting of disclosures, emergency reads."""

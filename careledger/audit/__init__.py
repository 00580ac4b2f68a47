"""A verifiable log: recomputed hash chains, signed Merkle checkpoints, inclusion proofs.

The stream hash chains (computed by `append_events`) show that an event's content and
its place in its stream are what they were when stored; they cannot show that a whole
stream, or a stream's newest events, were not rewritten or dropped by someone able to
recompute hashes. Signed checkpoints close that gap for every position they cover, and
an inclusion proof lets an auditor outside the system check one event against a
checkpoint with nothing but the public key (`check.py`).

Nothing here is imported by the domain, and this package imports nothing at import time,
so `careledger.audit.check` stays loadable on its own.
"""

"""The clinic's own model: referrals, assessments, certified plans, sessions, discharge.

Nothing here imports from the other layers or from any framework but the
eventsourcing library, so the rules can be tested without a database.
"""

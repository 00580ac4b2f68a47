"""How each stage of an episode's events becomes FHIR resources: one module a stage, named
as the domain's (referral.py holds the referral and its intake)."""

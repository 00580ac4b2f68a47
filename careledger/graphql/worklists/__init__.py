"""The lists that name patients: a clinic's caseload, a physician's worklist, a therapist's day."""

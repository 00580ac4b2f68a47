"""FHIR R4 export of a patient's record (issue 5): the log, folded into a Bundle.

`vocabulary` names the code systems and identifiers, `record` folds one patient's
events into resources and a Provenance per event, `export` reads the log, authorizes
and logs the read, and validates every resource through `fhir.resources` (R4B models).
"""

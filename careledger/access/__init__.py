"""Who the caller is, what they may read, and the log of every read.

Tokens (`tokens`), the care-team rule every way into patient data shares (`policy`: the
GraphQL API, the FHIR export, the command line), and the hash-chained access log that each
read is written to before its data leaves (`log`).
"""

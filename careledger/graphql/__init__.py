"""Strawberry schema over the views (issue 4). Named graphql/ inside careledger/ so it
never shadows graphql-core, Strawberry's engine, when Python runs from the repo root."""

"""Edges to the outside: the Django Ninja command API, tokens, idempotency."""

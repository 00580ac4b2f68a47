"""Wiring: settings, PostgreSQL and its launcher, the event store, the CLI."""

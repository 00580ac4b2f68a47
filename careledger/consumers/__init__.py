"""Kafka consumer loops that apply projections with tracking, and the relay (issue 3)."""

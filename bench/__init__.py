"""Benchmarks: each prints a ratio against the raw operation it stands on, same run."""

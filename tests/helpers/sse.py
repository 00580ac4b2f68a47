"""The tests' server-sent events client: the benchmarks' (bench/sse.py), one of them."""

from __future__ import annotations

from bench.sse import Event, Stream

__all__ = ["Event", "Stream"]

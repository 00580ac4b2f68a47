"""What makes a benchmark's figures trustworthy: it stops with an error instead of printing a
number it did not measure.

Every benchmark collects its failures here and exits non-zero if there are any: a worker
thread that died (its exception is kept, not just printed), an offered rate that was not
held (the rate really achieved is named), or counts that do not add up.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: The share of an offered rate that counts as holding it (the schedule's own jitter).
RATE_HELD = 0.95
#: `off` turns the checks that depend on the machine's speed (a rate held, a time limit)
#: into warnings: the test suite runs every benchmark in a tiny size on a loaded machine
#: to see that it works, not how fast; counts and dead threads are always checked.
TIMING_CHECKS = os.environ.get("BENCH_TIMING_CHECKS", "on") != "off"


class Failures:
    def __init__(self, bench: str) -> None:
        self.bench = bench
        self.found: list[str] = []

    def require(self, condition: bool, message: str) -> None:
        if not condition:
            self.found.append(message)
            print(f"  FAILED: {message}", file=sys.stderr)

    def require_rate(self, achieved: float, offered: float, what: str) -> None:
        self.require_timing(achieved >= offered * RATE_HELD,
                            f"{what}: {offered:.0f}/s was asked for, {achieved:.0f}/s was held")

    def require_timing(self, condition: bool, message: str) -> None:
        if TIMING_CHECKS:
            self.require(condition, message)
        elif not condition:
            print(f"  not held (timing checks are off): {message}", file=sys.stderr)

    def require_counts(self, expected: int, got: int, what: str) -> None:
        self.require(expected == got, f"{what}: {expected} expected, {got} counted")

    @contextmanager
    def threads(self) -> Iterator[None]:
        """A thread that dies inside this block fails the benchmark (by default Python
        only prints its traceback and lets the figures go on)."""
        died: list[str] = []
        previous = threading.excepthook

        def hook(args: threading.ExceptHookArgs) -> None:
            name = args.thread.name if args.thread is not None else "a thread"
            died.append(f"{name} died: {args.exc_type.__name__}: {args.exc_value}")
            previous(args)

        threading.excepthook = hook
        try:
            yield
        finally:
            threading.excepthook = previous
            for message in died:
                self.require(False, message)

    def exit_if_any(self) -> None:
        if self.found:
            raise SystemExit(f"{self.bench}: {len(self.found)} check(s) failed, so the figures "
                             f"above do not stand: " + "; ".join(self.found))

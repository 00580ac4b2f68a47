"""A benchmark stops with an error rather than print a figure it did not measure."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from bench.__main__ import WorkerDied, rate, rate_in_processes
from bench.checks import Failures


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_thread_that_dies_fails_the_benchmark() -> None:
    failures = Failures("bench.test")

    def watcher() -> None:
        raise RuntimeError("dictionary changed size during iteration")

    with failures.threads():
        thread = threading.Thread(target=watcher, name="freshness watcher")
        thread.start()
        thread.join()
    with pytest.raises(SystemExit, match="freshness watcher died: RuntimeError: dictionary"):
        failures.exit_if_any()


def test_a_rate_not_held_names_the_rate_that_was() -> None:
    failures = Failures("bench.test")
    failures.require_rate(6474 / 60, 200, "freshness: commands sent")
    with pytest.raises(SystemExit, match="200/s was asked for, 108/s was held"):
        failures.exit_if_any()


def test_counts_that_do_not_add_up_fail() -> None:
    failures = Failures("bench.test")
    failures.require_counts(12000, 12000, "sent")
    failures.exit_if_any()  # nothing failed yet
    failures.require_counts(6474, 948, "freshness: commands seen in the views")
    with pytest.raises(SystemExit, match="6474 expected, 948 counted"):
        failures.exit_if_any()


def _failing_after(n: int) -> Callable[[int], Callable[[], None]]:
    def factory(_i: int) -> Callable[[], None]:
        done = [0]

        def op() -> None:
            done[0] += 1
            if done[0] > n:
                raise ConnectionError("the server went away")
        return op
    return factory


def test_a_worker_thread_whose_operation_fails_stops_the_measurement() -> None:
    with pytest.raises(WorkerDied, match="ConnectionError: the server went away"):
        rate(4, _failing_after(50), seconds=30)  # stops at the failure, not after 30 s
    measured = rate(2, lambda _i: lambda: None, seconds=0.05)
    assert measured.operations > 0 and measured > 0


def test_a_worker_process_whose_operation_fails_stops_the_measurement() -> None:
    with pytest.raises(WorkerDied, match=r"worker processes died.*the server went away"):
        rate_in_processes(2, _failing_after(0))

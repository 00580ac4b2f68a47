"""Every benchmark `make bench` runs, run here in a tiny size: a broken one fails the suite.

Each runs as `make bench` runs it, in its own process with its own PostgreSQL and broker,
and must exit 0 having printed its figures. The checks that depend on how fast this
machine is (a rate held, a time limit) are warnings here (`BENCH_TIMING_CHECKS=off`):
the suite runs on loaded machines, and a test never rests on timing it does not control.
Counts that must add up, and worker threads that must not die, are checked as always.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT

TINY: dict[str, tuple[list[str], dict[str, str], list[str]]] = {
    "commands": (["bench"], {"BENCH_SECONDS": "0.5", "BENCH_ROUNDS": "1",
                             "BENCH_LONG_EVENTS": "120"}, ["[1]", "[2]", "[3]"]),
    "views": (["bench.views"], {"BENCH_PATIENTS": "3", "BENCH_RATE": "20",
                                "BENCH_FRESHNESS_SECONDS": "3"}, ["[a]", "[b]", "[c]", "[d]"]),
    "rest": (["bench.rest"], {"BENCH_REST_SECONDS": "2", "BENCH_REST_FRESHNESS_SECONDS": "1",
                              "BENCH_REST_ROUNDS": "1"}, ["[1] relay", "[1] consumer", "[2]"]),
    "graphql": (["bench.graphql"], {"BENCH_SECONDS": "0.5", "BENCH_ROUNDS": "1"},
                ["timeline", "worklist"]),
    "audit": (["bench.audit"], {"BENCH_AUDIT_EVENTS": "3000", "BENCH_AUDIT_PATIENTS": "3"},
              ["[1]", "[2]", "[3]", "[4]"]),
    "load": (["bench.load", "--rate", "10", "--seconds", "2"], {}, ["1x", "2x", "4x"]),
    "streams": (["bench.streams"], {"BENCH_STREAMS": "5", "BENCH_RATE": "5",
                                    "BENCH_SECONDS": "2"}, ["[streams]"]),
    "cli": (["bench.cli"], {"BENCH_CLI_RUNS": "2", "BENCH_CLI_LOAD_SECONDS": "2"},
            ["careledger --help", "status --ready api", "api worker", "relay", "consumer"]),
}


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", sorted(TINY))
def test_the_benchmark_runs_and_prints_its_figures(name: str) -> None:
    args, sizes, lines = TINY[name]
    clean = {k: v for k, v in os.environ.items()
             if k not in ("CARELEDGER_DATABASE_URL", "CARELEDGER_KAFKA_BOOTSTRAP")}
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=580, check=False,
                          env={**clean, **sizes, "BENCH_TIMING_CHECKS": "off"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    for line in lines:
        assert line in done.stdout, f"{line!r} is missing from:\n{done.stdout}"
    assert "FAILED" not in done.stdout + done.stderr


def test_make_bench_runs_every_benchmark_here() -> None:
    recipe = (ROOT / "Makefile").read_text().split("\nbench:", 1)[1].split("\n\n", 1)[0]
    run = {line.split("-m", 1)[1].strip() for line in recipe.splitlines() if " -m " in line}
    assert run == {" ".join(args) if args[0] != "bench.load" else "bench.load"
                   for args, _sizes, _lines in TINY.values()}

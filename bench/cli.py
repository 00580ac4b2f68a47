"""`python -m bench.cli`: how fast `careledger` starts, and how big its processes stay.

  1. The median wall time of BENCH_CLI_RUNS (10) runs of `careledger --help` and of
     `careledger status --ready api` (against a running PostgreSQL, as a healthcheck
     sees it), beside `python -c pass` measured in the same run;
  2. each process's resident memory (the API's master and each of its workers, the relay,
     the consumer) after a mixed load has run through them (bench.load's workload at
     BENCH_LOAD_RATE for BENCH_CLI_LOAD_SECONDS); then, as measured, after what that load
     leaves out (referrals, FHIR exports of whole episodes and of one long record).

Exits non-zero if a command's median is 0.5 s or more, or a process holds 120 MB or more
after the load: the limits the redesign holds the platform to.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.checks import Failures
from bench.stack import own_stack

RUNS = int(os.environ.get("BENCH_CLI_RUNS", "10"))
LOAD_SECONDS = float(os.environ.get("BENCH_CLI_LOAD_SECONDS", "20"))
RATE = float(os.environ.get("BENCH_LOAD_RATE", "40"))
#: The limits: a command's median start-to-exit, a process's resident memory.
MAX_START_S = 0.5
MAX_RSS_MB = 120.0


def median_wall(command: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"bench.cli: {' '.join(command)} exited {done.returncode}: "
                             f"{done.stderr.decode()[-300:]}")
    return statistics.median(times)


def processes(pid: int) -> list[tuple[int, str, float]]:
    """A process and its children (gunicorn's workers): pid, role, resident MB."""
    found = []
    for candidate in Path("/proc").iterdir():
        if not candidate.name.isdigit():
            continue
        try:
            status = dict(line.split(":", 1) for line in
                          (candidate / "status").read_text().splitlines() if ":" in line)
        except OSError:
            continue
        parent = status.get("PPid", "").strip()
        if candidate.name == str(pid) or parent == str(pid):
            rss = int(status.get("VmRSS", "0 kB").split()[0]) / 1024
            found.append((int(candidate.name), "master" if parent != str(pid) else "worker",
                          rss))
    return sorted(found, key=lambda p: (p[1] != "master", p[0]))


#: Requests of each kind the mixed load leaves out, sent after it: enough that every API
#: worker validates ICD-10-CM codes (a referral) and builds FHIR Bundles of whole episodes.
OTHERS = 24


def everything_else(workload: Any, patients: list[str], failures: Failures) -> None:
    network, http = workload.network, workload.http
    physician = {"Authorization": f"Bearer {workload.physician}"}
    for n in range(OTHERS):
        made = http.post("/api/v1/referrals", headers=physician, json={
            "patient_id": str(network.patient), "clinic_id": str(network.clinic),
            "discipline": "medical_massage", "diagnoses": ["M54.50", "M79.7"],
            "contraindications": [], "precautions": [], "authorized_visits": 4,
            "reason": "bench", "occurred_at": "2026-03-02T09:00:00+00:00"})
        failures.require(made.status_code == 201, f"a referral answered {made.status_code}")
        export(workload, patients[n % len(patients)], failures)


def export(workload: Any, patient: str, failures: Failures) -> int:
    """A FHIR export as the auditor; answers the Bundle's size in resources."""
    exported = workload.http.get(f"/api/v1/patients/{patient}/fhir",
                                 headers={"Authorization": f"Bearer {workload.auditor}"})
    failures.require(exported.status_code == 200,
                     f"a FHIR export answered {exported.status_code}")
    return len(exported.json().get("entry", [])) if exported.status_code == 200 else 0


def memory(stack: Any, failures: Failures | None) -> None:
    """Each process's resident memory; held to the limit when `failures` is given."""
    for name in ("api", "relay", "consumer"):
        for pid, role, rss in processes(stack.parts[name].pid):
            label = f"{name} {role}" if name == "api" else name
            print(f"  {label:16s} pid {pid:7d} {rss:6.1f} MB")
            if failures is not None:
                failures.require(rss < MAX_RSS_MB, f"{label} (pid {pid}) holds {rss:.0f} MB"
                                 f" (limit {MAX_RSS_MB:.0f} MB)")


def seeded_patients(stack: Any) -> list[str]:
    """A few patients with whole episodes (referral to discharge), as the demo seeds them."""
    from careledger.main import bootstrap
    from careledger.main.seed import seed_network

    app = bootstrap.application(bootstrap.database(stack.settings), stack.settings)
    try:
        return seed_network(app, patients=8).patient_ids
    finally:
        app.close()


def main() -> None:
    from bench.load import Stage, Workload

    failures = Failures("bench.cli")
    careledger = [sys.executable, "-m", "careledger.main.cli"]
    with own_stack(Path(tempfile.mkdtemp(prefix="careledger-cli-"))) as stack:
        env = {**stack.env}
        env.pop("CARELEDGER_KAFKA_BOOTSTRAP", None)
        subprocess.run([*careledger, "migrate"], env=env, capture_output=True, check=True)
        baseline = median_wall([sys.executable, "-c", "pass"], env)
        print(f"CareLedger's command line, medians of {RUNS} runs "
              f"(python -c pass: {baseline * 1000:.0f} ms)\n")
        for args in (["--help"], ["status", "--ready", "api"]):
            wall = median_wall([*careledger, *args], env)
            print(f"  careledger {' '.join(args):24s} {wall * 1000:6.0f} ms"
                  f" = {wall / baseline:5.1f}x python -c pass")
            failures.require_timing(wall < MAX_START_S, f"careledger {' '.join(args)} took "
                             f"{wall:.2f} s (limit {MAX_START_S} s)")

        workload = Workload(stack, requests=int(RATE * LOAD_SECONDS * 1.2))
        patients = seeded_patients(stack)
        for name in ("api", "relay", "consumer"):
            stack.start(name)
        stack.wait_until_ready()
        workload.warm_up()
        stage = workload.run(Stage("load", RATE, LOAD_SECONDS), failures)
        failures.require(not sum(stage.errors.values()),
                         f"{sum(stage.errors.values())} requests of the load failed")
        print(f"\nresident memory after the load: {stage.sent} requests in "
              f"{stage.elapsed:.0f} s ({stage.sent / stage.elapsed:.0f}/s):\n")
        memory(stack, failures)
        # Beyond the limit's terms, said as measured: what the load leaves out (making
        # referrals, which validates ICD-10-CM codes; FHIR exports of whole episodes), then
        # the load's own patient exported whole (every session the load scheduled).
        everything_else(workload, patients, failures)
        print(f"\nthen after {OTHERS} referrals and {OTHERS} FHIR exports of whole "
              "episodes:\n")
        memory(stack, None)
        resources = export(workload, str(workload.network.patient), failures)
        print(f"\nand after exporting the load's own patient ({resources} resources):\n")
        memory(stack, None)
        failures.require(not stack.unexpected_exits(), f"{stack.unexpected_exits()} stopped")
    failures.exit_if_any()


if __name__ == "__main__":
    main()

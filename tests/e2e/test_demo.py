"""`careledger up --demo` on a fresh data folder: it starts PostgreSQL, the broker, the API,
the relay and the consumers, seeds the network, prints URLs, tokens and examples that work
as printed, and Ctrl-C stops every process it started, exiting 0.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from careledger.domain.patient import Patient
from careledger.domain.referral import Referral
from careledger.infra import embedded_pg
from careledger.infra.embedded_pg import free_port

READY = "Ctrl-C stops everything"
START_TIMEOUT_S = 75
STOP_TIMEOUT_S = 40


def process_started(pid: int) -> str | None:
    """The process's start time (to tell it from a later one given the same pid), or None
    once it has ended (a zombie has ended too)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def descendants(pid: int) -> dict[int, str]:
    """Every living process under pid, by pid, with its start time."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: dict[int, str] = {}
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        started = process_started(child)
        if started is not None:
            found[child] = started
            todo += children.get(child, [])
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "?"


def run_curl(line: str) -> httpx.Response:
    """A printed `curl` line, sent as curl would send it (so it works as printed)."""
    args = shlex.split(line)
    assert args[0] == "curl", line
    method, url, headers, body = "GET", "", {}, None
    rest = iter(args[1:])
    for arg in rest:
        if arg == "-s":
            continue
        if arg == "-X":
            method = next(rest)
        elif arg == "-H":
            name, _, value = next(rest).partition(": ")
            headers[name] = value
        elif arg == "-d":
            body = next(rest)
            method = "POST" if method == "GET" else method
        elif arg.startswith("http"):
            url = arg
        else:
            raise AssertionError(f"curl argument {arg!r} is not one the test understands")
    return httpx.request(method, url, headers=headers, content=body, timeout=15)


class Output:
    """The lines `up` prints on stdout, read as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.done = threading.Event()
        self._reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._reader.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith(READY):
                self.done.set()
        self.done.set()

    def after(self, label: str) -> str:
        """The line after the one containing label."""
        at = next(i for i, line in enumerate(self.lines) if label in line)
        return self.lines[at + 1].strip()

    def field(self, label: str) -> str:
        line = next(line for line in self.lines if line.strip().startswith(label))
        return line.strip()[len(label):].strip()


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_up_demo_starts_answers_its_printed_examples_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("CARELEDGER_")}  # the embedded defaults, nothing configured
    env.update(CARELEDGER_DATA_DIR=str(data_dir), CARELEDGER_HTTP_PORT=str(port),
               CARELEDGER_WORKERS="1")
    errors = (tmp_path / "up.stderr").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "careledger.main.cli", "up", "--demo"], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=errors, text=True)
    out = Output(process)
    started: dict[int, str] = {}
    try:
        assert out.done.wait(START_TIMEOUT_S) and process.poll() is None, (
            "\n".join(out.lines) + (tmp_path / "up.stderr").read_text())
        base = f"http://127.0.0.1:{port}"
        assert out.field("CareLedger is ready at") == base
        assert out.field("GraphiQL") == f"{base}/graphql"
        assert out.field("OpenAPI docs") == f"{base}/api/v1/docs"
        tokens = {role: out.field(role) for role in ("physician", "therapist", "clinic admin",
                                                     "auditor", "biller")}
        assert all(token.count(".") == 2 for token in tokens.values()), tokens

        examples = [line.strip() for line in out.lines if line.strip().startswith("curl ")]
        assert len(examples) == 5
        timeline = run_curl(out.after("reads the demo patient's shared timeline")).json()
        assert "errors" not in timeline, timeline
        events = timeline["data"]["patient"]["timeline"]["events"]
        assert events[0]["kind"] == Patient.Registered.KIND
        assert any(e["kind"] == Referral.Made.KIND for e in events)
        caseload = run_curl(out.after("reads the clinic's open caseload")).json()
        assert caseload["data"]["clinic"]["caseload"], caseload
        report = run_curl(out.after("lists every read of the demo patient's record")).json()
        assert any(entry["role"] == "physician" and entry["fields"] == "patient:timeline"
                   for entry in report["data"]["accessReport"]), report
        claims = run_curl(out.after("the biller exports the clinic's claims"))
        assert claims.status_code == 200, claims.text
        header, *lines = claims.text.splitlines()
        assert header.startswith("service_date,patient,birth_date,payer,member_id")
        assert any(",yes," in line for line in lines), claims.text[:2000]
        command = run_curl(out.after("the physician registers a patient"))
        assert command.status_code == 201 and command.json()["version"] == 1

        html = {"Accept": "text/html"}
        browser_pages = [f"{base}/graphql", f"{base}/api/v1/docs",
                         out.after("The demo patient's shared timeline, in GraphiQL")]
        for url in browser_pages:
            page = httpx.get(url, headers=html, timeout=15)
            assert page.status_code == 200 and "<html" in page.text.lower(), url

        started = descendants(process.pid)
        postmaster = embedded_pg.EmbeddedPostgres(data_dir, 0, "").pid()
        assert postmaster is not None
        started |= {postmaster: str(process_started(postmaster))} | descendants(postmaster)
        names = " ".join(command_line(pid) for pid in started)
        for part in ("tansu", "serve", "relay", "consume", "postgres"):
            assert part in names, names

        process.send_signal(signal.SIGINT)
        assert process.wait(STOP_TIMEOUT_S) == 0, (tmp_path / "up.stderr").read_text()
        deadline = time.monotonic() + 5  # an orphan's exit is reaped by init, not by us
        while (left := {pid for pid, at in started.items() if process_started(pid) == at}) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, {pid: command_line(pid) for pid in left}
        said = (tmp_path / "up.stderr").read_text()
        assert "Traceback" not in said
        assert ("stopping the API, the live streams, the relay and the consumers, then the "
                "embedded broker, "
                "then the embedded PostgreSQL; the data stays in") in said, said
        assert said.rstrip().endswith("stopped"), said
        assert (data_dir / "demo.json").exists()  # the data stays for next time
    finally:
        _stop(process, started, data_dir)
        errors.close()


def _stop(process: subprocess.Popen[Any], started: dict[int, str], data_dir: Path) -> None:
    """After a failure: end what the test started, by pid, and the embedded server."""
    if process.poll() is None:
        started |= descendants(process.pid)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    embedded_pg.EmbeddedPostgres(data_dir, 0, "").stop("immediate")
    for pid, at in started.items():
        if process_started(pid) == at:
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("command", [["up", "--demo"], ["serve"]])
def test_a_taken_port_is_refused_in_one_line_before_anything_starts(
    tmp_path: Path, command: list[str]
) -> None:
    data_dir = tmp_path / "data"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("CARELEDGER_")}
    with socket.socket() as other:  # another instance, or another program, on the port
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        env.update(CARELEDGER_DATA_DIR=str(data_dir), CARELEDGER_HTTP_PORT=str(port))
        refused = subprocess.run([sys.executable, "-m", "careledger.main.cli", *command],
                                 env=env, cwd=tmp_path, capture_output=True, text=True,
                                 timeout=60, check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"error: port {port} on 127.0.0.1 is taken (another CareLedger, or another program): "
        "stop it, or set CARELEDGER_HTTP_PORT to a free port"), refused.stderr
    assert refused.stdout == ""  # no banner, no tokens
    assert embedded_pg.EmbeddedPostgres(data_dir, 0, "").pid() is None  # nothing started
    assert not (data_dir / "demo.json").exists()

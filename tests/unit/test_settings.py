"""The settings refuse what they cannot use, in one line naming the variable.

No database, no broker: `Settings.from_env` over a plain mapping, and the real CLI in a
subprocess for what an operator sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from careledger.infra.settings import (
    ENVIRONMENT_VARIABLES,
    FLAGS,
    SettingError,
    Settings,
    parse_flag,
)
from careledger.infra.settings_model import ALGORITHMS
from tests.helpers import ROOT


@pytest.fixture()
def base(tmp_path: Path) -> dict[str, str]:
    return {"CARELEDGER_DATA_DIR": str(tmp_path / "data"),
            "CARELEDGER_APP_DB_PASSWORD": "x", "CARELEDGER_TOKEN_SECRET": "y" * 32}


def refused(base: dict[str, str], **env: str) -> str:
    with pytest.raises(SettingError) as caught:
        Settings.from_env({**base, **env})
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_unset_everything_is_the_embedded_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"CARELEDGER_DATA_DIR": str(tmp_path / "data")})
    assert settings.data_dir == (tmp_path / "data").resolve()
    assert (settings.http_host, settings.http_port, settings.debug) == ("127.0.0.1", 8000, False)
    assert settings.oidc_issuer is None and settings.oidc_algorithms == ("RS256", "ES256")
    assert (settings.oidc_audience, settings.oidc_leeway_seconds) == ("careledger", 60)
    assert (settings.session_idle_minutes, settings.session_max_hours) == (15, 12)
    assert (settings.rate_commands, settings.rate_reads, settings.rate_exports,
            settings.rate_streams, settings.rate_per_address) == (600, 1200, 60, 30, 3000)
    assert settings.base_url == "http://127.0.0.1:8000"
    # The secrets a fresh clone needs are made once, in the data folder, and kept.
    secrets = tmp_path / "data" / "secrets"
    assert settings.app_db_password == (secrets / "app-db-password").read_text()
    assert settings.token_secret == (secrets / "token-secret").read_text()
    again = Settings.from_env({"CARELEDGER_DATA_DIR": str(tmp_path / "data")})
    assert (again.app_db_password, again.token_secret) == (
        settings.app_db_password, settings.token_secret)


def test_an_empty_variable_is_an_unset_one(base: dict[str, str]) -> None:
    settings = Settings.from_env({**base, **dict.fromkeys(
        ("CARELEDGER_HTTP_PORT", "CARELEDGER_DEBUG", "CARELEDGER_OIDC_ALGORITHMS",
         "CARELEDGER_TLS_CERT", "CARELEDGER_OIDC_ISSUER"), "")})
    assert (settings.http_port, settings.debug, settings.tls_cert) == (8000, False, None)
    assert settings.oidc_algorithms == ("RS256", "ES256")


def test_a_port_that_is_not_a_number_is_one_line_naming_it(base: dict[str, str]) -> None:
    assert refused(base, CARELEDGER_HTTP_PORT="abc") == (
        "CARELEDGER_HTTP_PORT is a whole number from 1 up to 65535, not 'abc'")
    for port in ("0", "65536", "-1", "8000.0", "٨٠٠٠"):
        assert refused(base, CARELEDGER_HTTP_PORT=port).startswith("CARELEDGER_HTTP_PORT ")
    assert Settings.from_env({**base, "CARELEDGER_HTTP_PORT": " 8443 "}).http_port == 8443


def test_never_more_than_40_characters_of_a_value_are_repeated(base: dict[str, str]) -> None:
    message = refused(base, CARELEDGER_DB_POOL_SIZE="s3cr3t" * 20)
    assert message.startswith("CARELEDGER_DB_POOL_SIZE is a whole number")
    assert ("s3cr3t" * 20)[:41] not in message and ("s3cr3t" * 20)[:40] in message


@pytest.mark.parametrize("spelling", sorted(FLAGS))
def test_each_usual_boolean_spelling_is_taken(base: dict[str, str], spelling: str) -> None:
    for written in (spelling, spelling.upper(), f" {spelling.title()} "):
        settings = Settings.from_env({**base, "CARELEDGER_DEBUG": written,
                                      "CARELEDGER_BEHIND_PROXY": written})
        assert settings.debug is FLAGS[spelling] and settings.behind_proxy is FLAGS[spelling]
        assert parse_flag(written, name="CARELEDGER_DEBUG") is FLAGS[spelling]


@pytest.mark.parametrize("spelling", ["ture", "y", "n", "2", "enabled", "nope"])
def test_any_other_boolean_spelling_is_refused(base: dict[str, str], spelling: str) -> None:
    message = refused(base, CARELEDGER_DEBUG=spelling)
    assert message == ("CARELEDGER_DEBUG is 1 or 0, true or false, yes or no, on or off, "
                       f"not {spelling!r}")
    with pytest.raises(SettingError, match=r"^CARELEDGER_BEHIND_PROXY is 1 or 0"):
        parse_flag(spelling, name="CARELEDGER_BEHIND_PROXY")
    assert parse_flag("", name="CARELEDGER_DEBUG") is False
    assert parse_flag(None, name="CARELEDGER_DEBUG", default=True) is True


@pytest.mark.parametrize("algorithms", ["none", "HS256", "RS256,HS512", "hs384", "None"])
def test_no_unsigned_or_shared_secret_algorithm_is_pinned(base: dict[str, str],
                                                          algorithms: str) -> None:
    message = refused(base, CARELEDGER_OIDC_ALGORITHMS=algorithms)
    assert message.startswith("CARELEDGER_OIDC_ALGORITHMS refuses ")


def test_the_algorithms_are_a_list_of_the_asymmetric_ones(base: dict[str, str]) -> None:
    chosen = Settings.from_env({**base, "CARELEDGER_OIDC_ALGORITHMS": "es384, eddsa,ES384"})
    assert chosen.oidc_algorithms == ("ES384", "EdDSA")
    every = Settings.from_env({**base, "CARELEDGER_OIDC_ALGORITHMS": ",".join(ALGORITHMS)})
    assert every.oidc_algorithms == ALGORITHMS
    assert refused(base, CARELEDGER_OIDC_ALGORITHMS="RS256,XS1").startswith(
        "CARELEDGER_OIDC_ALGORITHMS is a comma-separated list of RS256")
    assert refused(base, CARELEDGER_OIDC_ALGORITHMS=" , ").startswith(
        "CARELEDGER_OIDC_ALGORITHMS names at least one")


def test_the_issuer_is_https_except_on_loopback_and_kept_as_given(base: dict[str, str]
                                                                  ) -> None:
    for issuer in ("http://idp.clinic.example", "http://10.0.0.5:8080/realms/care",
                   "ftp://idp.clinic.example", "idp.clinic.example"):
        assert refused(base, CARELEDGER_OIDC_ISSUER=issuer).startswith(
            "CARELEDGER_OIDC_ISSUER is "), issuer
    for issuer in ("https://idp.clinic.example/?tenant=1", "https://idp.clinic.example/#x"):
        assert "without a query or fragment" in refused(base, CARELEDGER_OIDC_ISSUER=issuer)
    for issuer in ("https://idp.clinic.example/realms/care/", "http://127.0.0.1:8080",
                   "http://localhost:8080/realms/care", "http://[::1]:8080/"):
        assert Settings.from_env({**base, "CARELEDGER_OIDC_ISSUER": issuer}).oidc_issuer == issuer


def test_a_client_needs_its_issuer_and_a_secret_its_client(base: dict[str, str]) -> None:
    assert refused(base, CARELEDGER_OIDC_CLIENT_SECRET="s").startswith(
        "CARELEDGER_OIDC_CLIENT_SECRET is set without CARELEDGER_OIDC_CLIENT_ID: set ")
    assert refused(base, CARELEDGER_OIDC_CLIENT_ID="pages").startswith(
        "CARELEDGER_OIDC_CLIENT_ID is set without CARELEDGER_OIDC_ISSUER: set ")
    confidential = Settings.from_env({**base, "CARELEDGER_OIDC_ISSUER": "https://idp.example",
                                      "CARELEDGER_OIDC_CLIENT_ID": "pages",
                                      "CARELEDGER_OIDC_CLIENT_SECRET": "s"})
    assert (confidential.oidc_client_id, confidential.oidc_client_secret) == ("pages", "s")
    assert "'s'" not in repr(confidential)  # secrets stay out of a printed Settings


def test_the_bounded_numbers_say_their_bounds(base: dict[str, str]) -> None:
    assert refused(base, CARELEDGER_DB_POOL_SIZE="1001") == (
        "CARELEDGER_DB_POOL_SIZE is a whole number from 1 up to 1000, not '1001'")
    assert refused(base, CARELEDGER_MAX_BODY_BYTES="0").startswith(
        "CARELEDGER_MAX_BODY_BYTES is a whole number from 1, not '0'")
    assert refused(base, CARELEDGER_OIDC_LEEWAY_SECONDS="301") == (
        "CARELEDGER_OIDC_LEEWAY_SECONDS is a whole number from 0 up to 300, not '301'")
    assert refused(base, CARELEDGER_SESSION_IDLE_MINUTES="0").startswith(
        "CARELEDGER_SESSION_IDLE_MINUTES is a whole number from 1 up to 1440")
    assert refused(base, CARELEDGER_SESSION_MAX_HOURS="169").startswith(
        "CARELEDGER_SESSION_MAX_HOURS is a whole number from 1 up to 168")
    assert refused(base, CARELEDGER_RATE_READS="lots").startswith(
        "CARELEDGER_RATE_READS is a whole number from 0")
    assert Settings.from_env({**base, "CARELEDGER_RATE_READS": "0"}).rate_reads == 0


def test_the_public_url_is_where_browsers_reach_the_api(base: dict[str, str]) -> None:
    given = Settings.from_env({**base, "CARELEDGER_PUBLIC_URL": "https://care.example:8443/"})
    assert given.base_url == "https://care.example:8443"
    for url in ("https://care.example/api", "care.example", "https://care.example/?a=1"):
        assert refused(base, CARELEDGER_PUBLIC_URL=url).startswith("CARELEDGER_PUBLIC_URL is ")
    proxied = Settings.from_env({**base, "CARELEDGER_BEHIND_PROXY": "on",
                                 "CARELEDGER_HTTP_HOST": "0.0.0.0",
                                 "CARELEDGER_HTTP_PORT": "9000"})
    assert proxied.base_url == "https://0.0.0.0:9000"


def test_the_checks_across_settings_stay(base: dict[str, str], tmp_path: Path) -> None:
    pem = tmp_path / "cert.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n")
    assert refused(base, CARELEDGER_TLS_CERT=str(pem)) == (
        "CARELEDGER_TLS_CERT and CARELEDGER_TLS_KEY go together: set both (PEM files) to "
        "serve HTTPS, or neither")
    assert refused(base, CARELEDGER_KAFKA_SSL_CA=str(pem)).startswith(
        "CARELEDGER_KAFKA_SSL_* is set but CARELEDGER_KAFKA_SECURITY_PROTOCOL is not ssl")
    assert refused(base, CARELEDGER_TLS_KEY=str(tmp_path / "missing.pem")).startswith(
        "CARELEDGER_TLS_KEY names ")
    assert refused(base, CARELEDGER_KAFKA_SECURITY_PROTOCOL="tls") == (
        "CARELEDGER_KAFKA_SECURITY_PROTOCOL is one of plaintext, ssl, not 'tls'")
    served = Settings.from_env({**base, "CARELEDGER_TLS_CERT": str(pem),
                                "CARELEDGER_TLS_KEY": str(pem)})
    assert served.https and served.tls_cert == served.tls_key == pem
    assert served.base_url == "https://127.0.0.1:8000"


def test_several_bad_values_are_still_one_line(base: dict[str, str]) -> None:
    message = refused(base, CARELEDGER_HTTP_PORT="abc", CARELEDGER_DEBUG="ture")
    assert message.startswith("CARELEDGER_HTTP_PORT is a whole number")
    assert "; CARELEDGER_DEBUG is 1 or 0" in message


def test_settings_given_directly_read_no_environment(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("CARELEDGER_HTTP_PORT", "1234")
    monkeypatch.setenv("CARELEDGER_DEBUG", "1")
    settings = Settings(database_url=None, data_dir=tmp_path, app_db_password="p",
                        token_secret="t", db_pool_size=3)
    assert (settings.http_port, settings.debug, settings.db_pool_size) == (8000, False, 3)
    with pytest.raises(ValueError, match="frozen"):
        settings.http_port = 1  # type: ignore[misc]
    moved = settings.model_copy(update={"kafka_bootstrap": "127.0.0.1:9092"})
    assert (moved.kafka_bootstrap, settings.kafka_bootstrap) == ("127.0.0.1:9092", None)


def test_every_variable_is_documented_and_prefixed() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description: the README's table needs it"
    assert all(v.startswith("CARELEDGER_") for v in ENVIRONMENT_VARIABLES)
    assert len(set(ENVIRONMENT_VARIABLES)) == len(ENVIRONMENT_VARIABLES)


def test_the_cli_stops_on_a_bad_value_with_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELEDGER_")}
    done = subprocess.run(
        [sys.executable, "-m", "careledger.main.cli", "serve"], cwd=ROOT, check=False,
        env={**env, "CARELEDGER_DATA_DIR": str(tmp_path / "data"),
             "CARELEDGER_HTTP_PORT": "abc"}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: CARELEDGER_HTTP_PORT is a whole number from 1 up to 65535, not 'abc'"]


def test_help_does_not_import_the_settings_model() -> None:
    """`careledger --help` stays fast: pydantic-settings is imported by commands that
    read the settings, not by the CLI's own imports."""
    code = ("import sys, careledger.main.cli\n"
            "print(sorted(m for m in ('pydantic_settings', 'careledger.infra.settings_model')"
            " if m in sys.modules))")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]", done.stdout
    assert time.perf_counter() - started < 5  # generous: the bench holds the 0.5 s


def test_django_has_its_own_key_and_reads_flags_as_the_settings_do() -> None:
    """Django's SECRET_KEY is never the token secret, and is made anew by each process;
    DEBUG and the proxy flag take the settings' spellings (`On`, `YES`), no others."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELEDGER_")}
    code = ("import careledger.main.django_settings as d\n"
            "print(d.SECRET_KEY, d.DEBUG, d._BEHIND_PROXY)\n")
    runs = [subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=True, env={**env, "CARELEDGER_TOKEN_SECRET": "the-token-secret",
                         "CARELEDGER_DEBUG": "YES", "CARELEDGER_BEHIND_PROXY": " On "},
    ).stdout.split() for _ in range(2)]
    assert [run[1:] for run in runs] == [["True", "True"]] * 2
    keys = {run[0] for run in runs}
    assert len(keys) == 2 and "the-token-secret" not in keys
    assert all(len(key) >= 50 for key in keys)
    refused = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=False, env={**env, "CARELEDGER_DEBUG": "y"})
    assert refused.returncode != 0 and "CARELEDGER_DEBUG is 1 or 0" in refused.stderr

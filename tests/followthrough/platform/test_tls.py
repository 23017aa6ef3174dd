"""Mutual TLS end to end: Debian's nginx terminates TLS in front of the dev server and lets in
only clients with a certificate from its CA. The worker and the CLI connect through it with
the TEMPORAL_TLS_* paths and carry a sequence to its end; without the certificate, each
stops with one line that says what to set."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from followthrough.platform.devserver import DevServer
from followthrough.platform.settings import Settings
from store import Store
from tests.followthrough.platform.tls_proxy import (
    NGINX,
    Certificates,
    make_certificates,
    mtls_proxy,
)
from tests.starter.runner import invoke_async
from tests.test_end_to_end import quick_template
from worker import run_worker

if not Path(NGINX).exists():
    pytest.skip(
        f"{NGINX} not found: install Debian's nginx (make test does) to run the TLS test",
        allow_module_level=True,
    )

WORKFLOW_ID = "intervention-demo_quick_intervention-F1"


@pytest.fixture
def certs(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path / "certs")


@pytest.fixture
def proxy(dev_server: DevServer, certs: Certificates, tmp_path: Path) -> Iterator[str]:
    with mtls_proxy(certs, dev_server.address, tmp_path / "nginx") as address:
        yield address


@pytest.fixture
def tls_env(
    monkeypatch: pytest.MonkeyPatch, proxy: str, certs: Certificates, settings: Settings, tmp_path
) -> dict[str, str]:
    """The environment a user sets: the address and the three certificate paths."""
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'store.db'}",
        "TEMPORAL_TASK_QUEUE": settings.task_queue,
        "TEMPORAL_ADDRESS": proxy,
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(certs.ca),
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(certs.client_cert),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(certs.client_key),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


async def status_of(workflow_id: str) -> dict[str, object]:
    code, output = await invoke_async("status", workflow_id, "--json")
    assert code == 0, output
    return json.loads(output)


async def test_worker_and_cli_run_a_sequence_over_mutual_tls(
    tls_env, store: Store, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    await quick_template(store)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(Settings.from_env(), stop))
    try:
        code, output = await invoke_async("trigger", "demo_quick_intervention", "--family", "F1")
        assert code == 0 and "started" in output, output
        for _ in range(300):  # email, a 1 s wait, SMS, then the approval gate
            status = await status_of(WORKFLOW_ID)
            if status["state"] == "awaiting_approval":
                break
            assert not worker.done(), worker
            await asyncio.sleep(0.1)
        assert status["state"] == "awaiting_approval", status
        code, output = await invoke_async(
            "approve", WORKFLOW_ID, "--by", "sarah", "--role", "coordinator"
        )
        assert code == 0, output
        for _ in range(300):
            status = await status_of(WORKFLOW_ID)
            if status["state"] == "completed":
                break
            await asyncio.sleep(0.1)
        assert (status["state"], status["outcome"]) == ("completed", "call scheduled")
    finally:
        stop.set()
        await worker
    assert (
        f"on {tls_env['TEMPORAL_ADDRESS']}, namespace default, TLS (from TEMPORAL_* variables)"
        in caplog.text
    )
    # Every step ran on the worker behind the proxy: the store saw both messages.
    messages = await store.messages.for_workflow(WORKFLOW_ID)
    assert [m.channel for m in messages] == ["email", "sms"]


@pytest.mark.parametrize("client_cert", ["none", "other CA"])
async def test_without_the_client_certificate_worker_and_cli_fail_in_one_line(
    tls_env, store: Store, certs: Certificates, monkeypatch: pytest.MonkeyPatch, client_cert: str
):
    if client_cert == "none":
        monkeypatch.delenv("TEMPORAL_TLS_CLIENT_CERT_PATH")
        monkeypatch.delenv("TEMPORAL_TLS_CLIENT_KEY_PATH")
    else:
        monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(certs.other_client_cert))
        monkeypatch.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(certs.other_client_key))
    expected = (
        f"error: cannot connect to Temporal at {tls_env['TEMPORAL_ADDRESS']} "
        "(TEMPORAL_* variables): it requires a client certificate it trusts "
        "(set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)"
    )
    for command in (["status", WORKFLOW_ID], ["list"]):
        code, output = await invoke_async(*command)
        assert (code, output) == (1, expected), command
    # The worker as it is deployed: its own process, stopped at start-up.
    worker = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "followthrough"),
        "worker",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(worker.communicate(), timeout=60)
    assert (worker.returncode, err.decode().strip(), out) == (1, expected, b"")


async def test_without_the_servers_ca_the_certificate_is_not_trusted(
    tls_env, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH")
    code, output = await invoke_async("list")
    assert code == 1
    assert output.endswith(
        "its certificate is not trusted here "
        "(set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the CA that signed it)"
    ), output


async def test_plain_connection_to_a_tls_endpoint_says_it_speaks_tls(
    tls_env, monkeypatch: pytest.MonkeyPatch
):
    for name in ("SERVER_CA_CERT", "CLIENT_CERT", "CLIENT_KEY"):
        monkeypatch.delenv(f"TEMPORAL_TLS_{name}_PATH")
    code, output = await invoke_async("list")
    assert code == 1
    assert "it speaks TLS" in output and "\n" not in output, output

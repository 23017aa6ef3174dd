"""`starter/embedded.py`: the demo it loads and the guide it prints."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from followthrough.platform.connection import connect
from followthrough.platform.devserver import free_port
from followthrough.platform.settings import Settings
from followthrough.web.signin import SignIn
from starter.embedded import demo_admin, load_demo, print_guide, run_embedded


async def test_the_demo_starts_its_sequences_and_the_guide_names_them(
    dev_client, store, settings, capsys
):
    started = await load_demo(dev_client, store, settings)
    assert "intervention-high_risk_intervention-F1001" in started
    assert any("demo_quick" in workflow_id for workflow_id in started)
    password = await demo_admin(store)
    print_guide(Settings(ui_url="http://ui:8233/"), started, password, "http://127.0.0.1:9/")
    out = capsys.readouterr().out
    assert "Web UI:             http://ui:8233/namespaces/default/workflows" in out
    quick = next(w for w in started if "demo_quick" in w)
    assert f"followthrough approve {quick} --by sarah --role coordinator" in out
    assert "Web app (inbox, dashboard): http://127.0.0.1:9/" in out
    assert f"sign in as admin with password {password} (role director" in out
    # The printed login works, and a second run gives a new password.
    _, admin = await SignIn(store, Settings()).sign_in("admin", password)
    assert (admin.name, admin.role) == ("admin", "director")
    assert await demo_admin(store) != password
    for workflow_id in started:
        await dev_client.get_workflow_handle(workflow_id).terminate("test over")


async def test_dev_connects_to_its_own_server_whatever_the_user_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """A profile in temporal.toml and TEMPORAL_* variables that point elsewhere (with TLS and
    an API key) are not read by `followthrough dev`: it runs on the server it started."""
    profile = tmp_path / "temporal.toml"
    profile.write_text(
        '[profile.work]\naddress = "temporal.example:7233"\napi_key = "k"\n'
        '[profile.work.tls]\nserver_name = "temporal.example"\n'
    )
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(profile))
    monkeypatch.setenv("TEMPORAL_PROFILE", "work")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "elsewhere.example:7233")
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(tmp_path / "missing.pem"))
    port = free_port()
    dev = asyncio.create_task(
        run_embedded(
            data_dir=tmp_path / "data",
            port=port,
            ui_port=free_port(),
            demo=False,
            web_port=free_port(),
        )
    )
    local = Settings(temporal_address=f"127.0.0.1:{port}")
    for _ in range(150):
        assert not dev.done(), dev
        try:
            client = await connect(local)
            break
        except RuntimeError:
            await asyncio.sleep(0.2)
    # The worker polls the embedded server's queue once it is up.
    for _ in range(150):
        assert not dev.done(), dev
        pollers = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace="default", task_queue=TaskQueue(name=local.task_queue)
            )
        )
        if pollers.pollers:
            break
        await asyncio.sleep(0.2)
    assert pollers.pollers
    os.kill(os.getpid(), signal.SIGTERM)  # as Ctrl-C: `dev` stops what it started
    await asyncio.wait_for(dev, timeout=60)
    assert "stopping the web app, worker and server" in capsys.readouterr().out

"""`followthrough dev`: the embedded server, the store, the worker and the demo, in one go."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import socket
from pathlib import Path

import typer
from temporalio.client import Client

from followthrough import operations
from followthrough.platform.connection import connect
from followthrough.platform.devserver import DevServer
from followthrough.platform.settings import Settings
from followthrough.templates import builtin_templates
from followthrough.triggers import start as triggers
from followthrough.web.signin import hash_password
from store import Store, migrate

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"

# (family, probability, confidence): one high, one medium, one below every threshold.
DEMO_PREDICTIONS = [("F1001", 0.87, 82.0), ("F1002", 0.68, 74.0), ("F1003", 0.41, 90.0)]
# Quick sequences that reach their approval gate within a minute.
DEMO_QUICK = ["F1004", "F1005"]
# The demo's inbox account; `director` may approve every shipped template and cancel.
DEMO_ADMIN, DEMO_ADMIN_ROLE = "admin", "director"


async def demo_admin(store: Store) -> str:
    """Give the demo's inbox account a new random password (made if missing); returns it."""
    password = secrets.token_urlsafe(12)
    await store.accounts.set_password(DEMO_ADMIN, hash_password(password), DEMO_ADMIN_ROLE)
    return password


async def load_demo(client: Client, store: Store, settings: Settings) -> list[str]:
    """Load families and templates (idempotent) and trigger the demo sequences."""
    await operations.import_families(store, DEMO_DIR / "families.csv")
    for name, version, created in await operations.load_templates(store, builtin_templates()):
        typer.echo(f"template {name} v{version} {'loaded' if created else 'unchanged'}")
    started = []
    for family, probability, confidence in DEMO_PREDICTIONS:
        outcome = await triggers.predict(
            client,
            store,
            family,
            probability,
            confidence,
            task_queue=settings.task_queue,
            model_version="demo",
        )
        typer.echo(f"prediction {family} p={probability} c={confidence}: {outcome.message}")
        if outcome.workflow_id:
            started.append(outcome.workflow_id)
    for family in DEMO_QUICK:
        outcome = await triggers.trigger(
            client, store, "demo_quick_intervention", family, task_queue=settings.task_queue
        )
        typer.echo(f"manual trigger {family}: {outcome.message}")
        if outcome.workflow_id:
            started.append(outcome.workflow_id)
    return started


def print_guide(
    settings: Settings, started: list[str], password: str, web_url: str = "http://127.0.0.1:8080/"
) -> None:
    ui = settings.ui_url.rstrip("/")
    quick = next(
        (w for w in started if "demo_quick" in w), "intervention-demo_quick_intervention-F1004"
    )
    typer.secho("\nFollow-through is running.", bold=True)
    typer.echo(f"  Web UI:             {ui}/namespaces/{settings.namespace}/workflows")
    typer.echo(
        f"  Awaiting approval:  {ui}/namespaces/{settings.namespace}/workflows"
        "?query=InterventionState%3D%22awaiting_approval%22"
    )
    typer.echo("  The demo_quick sequences send an email, wait 20 s for a reply, send an SMS,")
    typer.echo("  wait 10 s and then ask for approval of a call (about 30-40 s from now).\n")
    typer.echo("In another terminal:")
    typer.echo(f"  .venv/bin/followthrough status {quick}")
    typer.echo(f"  .venv/bin/followthrough approve {quick} --by sarah --role coordinator")
    typer.echo(
        # The embedded server, not a profile of the user's temporal.toml.
        f"  .venv/bin/temporal workflow signal --address {settings.temporal_address} "
        "--disable-config-file --disable-config-env "
        f"--workflow-id {quick} --name approve "
        '--input \'{"approver": "sarah", "role": "coordinator"}\''
    )
    typer.echo(
        "  .venv/bin/followthrough respond "
        "intervention-high_risk_intervention-F1001 --channel email"
    )
    typer.echo("  .venv/bin/followthrough list --state awaiting_approval")
    typer.echo("  .venv/bin/followthrough tasks")
    typer.secho(f"\nWeb app (inbox, dashboard): {web_url}", bold=True)
    typer.echo(
        f"  sign in as {DEMO_ADMIN} with password {password} "
        f"(role {DEMO_ADMIN_ROLE}; a new password every run)"
    )
    typer.echo("  Add people with: .venv/bin/followthrough users add NAME --role coordinator")
    typer.echo("\nCtrl-C stops the worker and the server; .data/ keeps everything for next time.")


async def serve_web(
    client: Client, settings: Settings, port: int, stop: asyncio.Event
) -> tuple[str, asyncio.Task[None]]:
    """The signed-in web app on 127.0.0.1:`port` until `stop` is set; its address and task."""
    import uvicorn

    from followthrough.web.inbox import create_app

    with socket.socket() as probe:  # one clear line instead of uvicorn exiting the process
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as err:
            raise OSError(f"--web-port: 127.0.0.1:{port} is in use ({err.strerror})") from None
    store = Store.from_url(settings.database_url)
    app = create_app(client, store, settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))

    async def serve() -> None:
        serving = asyncio.create_task(server.serve())
        try:
            await stop.wait()
        finally:
            server.should_exit = True
            await serving
            await store.close()

    return f"http://127.0.0.1:{port}/", asyncio.create_task(serve())


async def run_embedded(
    data_dir: Path, port: int, ui_port: int, demo: bool, web_port: int = 8080
) -> None:
    """Start everything, wait for Ctrl-C, stop everything."""
    data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, at start-up
    # The embedded server, always: a user's temporal.toml or TEMPORAL_ADDRESS is not read.
    dev_defaults = {
        "TEMPORAL_UI_URL": f"http://localhost:{ui_port}",
        "DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'followthrough.db'}",
    }
    settings = Settings.from_env(defaults=dev_defaults, local_temporal=f"127.0.0.1:{port}")
    server = DevServer(data_dir / "temporal.db", port=port, ui_port=ui_port)
    typer.echo(f"starting Temporal on {server.address} (UI on :{ui_port}), data in {data_dir}/")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await migrate(settings.database_url)
        client = await _connect_when_ready(settings)
        from worker import run_worker

        worker_task = asyncio.create_task(run_worker(settings, stop, client))
        web_url, web_task = await serve_web(client, settings, web_port, stop)
        if demo:
            store = Store.from_url(settings.database_url)
            try:
                started = await load_demo(client, store, settings)
                password = await demo_admin(store)
            finally:
                await store.close()
            print_guide(settings, started, password, web_url)
        else:
            typer.echo(f"web app on {web_url} (add people with: followthrough users add)")
        await stop.wait()
        typer.echo("stopping the web app, worker and server...")
        await web_task
        await worker_task
    finally:
        stop.set()
        server.stop()
        typer.echo("stopped")


async def _connect_when_ready(settings: Settings, attempts: int = 100) -> Client:
    # The port opens a moment before the frontend answers; retry briefly.
    for _ in range(attempts - 1):
        with contextlib.suppress(RuntimeError):
            return await connect(settings)
        await asyncio.sleep(0.2)
    return await connect(settings)

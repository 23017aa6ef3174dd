"""Set-up and long-running commands: `dev`, `worker`, `migrate`, `demo`, and the listeners.

The listeners (`web`, `receiver`, `codec-server`) are separate processes on separate ports:
the provider callbacks and the codec endpoint never share the signed-in web app's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from starter.cli_runtime import run, session, settings
from store import migrate

serve_app = typer.Typer()


@serve_app.command()
def dev(
    demo: Annotated[bool, typer.Option(help="Load the demo and trigger its sequences.")] = True,
    port: Annotated[int, typer.Option(help="Temporal frontend port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Web UI port.")] = 8233,
    web_port: Annotated[int, typer.Option(help="The signed-in web app's port.")] = 8080,
    data_dir: Annotated[Path, typer.Option(help="Where SQLite files live.")] = Path(".data"),
) -> None:
    """Embedded Temporal (SQLite) + store migrations + worker (+ demo), until Ctrl-C."""
    from starter.embedded import run_embedded

    run(
        lambda: run_embedded(
            data_dir=data_dir, port=port, ui_port=ui_port, demo=demo, web_port=web_port
        )
    )


@serve_app.command()
def worker() -> None:
    """Run a worker against TEMPORAL_ADDRESS until Ctrl-C."""
    import worker as worker_module

    run(worker_module.main)


@serve_app.command("migrate")
def migrate_command() -> None:
    """Apply the store's migrations to DATABASE_URL."""

    async def work() -> None:
        await migrate(settings().database_url)
        typer.echo("store migrated")

    run(work)


@serve_app.command()
def demo() -> None:
    """Load the demo families and templates and trigger the demo sequences."""
    from starter.embedded import demo_admin, load_demo, print_guide

    async def work() -> None:
        async with session() as (current, client, store):
            await migrate(current.database_url)
            started = await load_demo(client, store, current)
            print_guide(current, started, await demo_admin(store))

    run(work)


@serve_app.command()
def web(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the web app.")] = 8080,
) -> None:
    """Serve the signed-in web app (inbox, dashboard, sequence and family pages) until Ctrl-C."""
    from followthrough.web.inbox import serve

    typer.echo(f"web app on http://{host}:{port}/ (inbox; dashboard at /dashboard)")
    run(lambda: serve(settings(), host, port))


@serve_app.command()
def receiver(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the callback endpoint.")] = 8090,
) -> None:
    """Accept signed provider callbacks (delivered, bounced, replied, STOP) until Ctrl-C.

    The shared secret comes from RECEIVER_SECRET; providers post to /callbacks.
    """
    from followthrough.web.receiver import receiver_secret, serve

    async def work() -> None:
        receiver_secret(settings())  # one clear line when it is missing, before anything else
        typer.echo(f"receiver on http://{host}:{port}/callbacks")
        await serve(settings(), host, port)

    run(work)


@serve_app.command("codec-server")
def codec_server(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the codec server.")] = 8081,
) -> None:
    """Decrypt payloads for the Web UI (PAYLOAD_KEYS, CODEC_SERVER_TOKEN) until Ctrl-C."""
    import uvicorn

    from followthrough.web.codec_server import codec_app_from_settings

    async def work() -> None:
        app_ = codec_app_from_settings(settings())
        typer.echo(f"codec server on http://{host}:{port}/ for the Web UI at {settings().ui_url}")
        config = uvicorn.Config(app_, host=host, port=port, log_level="info")
        await uvicorn.Server(config).serve()

    run(work)

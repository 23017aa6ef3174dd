"""`followthrough templates list|rollout|promote|rollback`: owners, quotas and rollouts."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from followthrough.platform.connection import connect
from followthrough.triggers import governance
from followthrough.triggers.start import TriggerError
from starter.cli_runtime import AS_JSON, dump, fail, open_store, run, settings

governance_app = typer.Typer()


@governance_app.command("list")
def templates_list(as_json: Annotated[bool, AS_JSON] = False) -> None:
    """Every template: latest version, owner, running/quota, versions (* active), rollout."""

    async def work() -> None:
        current = settings()
        async with open_store() as store:
            latest = await store.templates.list_latest()
            versions = {p.name: await store.templates.versions(p.name) for p in latest}
            rollouts = await store.rollouts.all()
        try:
            client = await connect(current)
        except (RuntimeError, ConnectionError, OSError):
            client = None
        rows = []
        for params in latest:
            rollout = rollouts.get(params.name)
            rows.append(
                {
                    "name": params.name,
                    "version": params.version,
                    "active": params.active,
                    "workflow": params.workflow,
                    "owner": params.accountable,
                    "running": None
                    if client is None
                    else await governance.count_running(client, params.name),
                    "max_active": params.max_active,
                    "versions": [
                        {"version": p.version, "active": p.active} for p in versions[params.name]
                    ],
                    "rollout": None
                    if rollout is None
                    else {"version": rollout.version, "percent": rollout.percent},
                }
            )
        if as_json:
            typer.echo(dump({"templates": rows, "running_counted": client is not None}))
            return
        for row in rows:
            typer.echo(_template_line(row))
        if client is None:
            typer.echo(f"(running counts need Temporal at {current.temporal_address})")

    run(work)


def _template_line(row: dict[str, Any]) -> str:
    running = "?" if row["running"] is None else row["running"]
    quota = f"{running}/{row['max_active'] or '-'}"
    listed = " ".join(f"v{v['version']}{'*' if v['active'] else ''}" for v in row["versions"])
    rollout = row["rollout"]
    share = "-" if rollout is None else f"v{rollout['version']} {rollout['percent']}%"
    state = "active" if row["active"] else "inactive"
    return (
        f"{row['name']:<28} v{row['version']:<3} {state:<9} {row['workflow']:<22} "
        f"owner {row['owner']:<12} running {quota:<8} versions {listed:<10} "
        f"rollout {share}"
    )


@governance_app.command("rollout")
def templates_rollout(
    name: str,
    version: Annotated[int, typer.Option(help="The new version to roll out.")],
    percent: Annotated[int, typer.Option(help="Its share of new starts, 0-100.")],
) -> None:
    """Give a version a share of new starts; each family always lands on the same side."""
    if not 0 <= percent <= 100:
        fail(f"percent: must be between 0 and 100, got {percent}")

    async def work() -> None:
        async with open_store() as store:
            candidate = await store.templates.get(name, version)
            if candidate is None:
                raise TriggerError(f"version: {name!r} has no version {version}")
            stable = [
                p.version
                for p in await store.templates.versions(name)
                if p.active and p.version != version
            ]
            if not stable:
                raise TriggerError(
                    f"version: {name!r} has no other active version to keep the other "
                    f"{100 - percent}% (activate one with `templates activate --version`)"
                )
            if not candidate.active:
                await store.templates.set_active(name, True, version)
            await store.rollouts.set(name, version, percent)
        typer.echo(
            f"{name}: v{version} takes {percent}% of new starts, v{stable[-1]} the rest; "
            "running sequences keep their version"
        )

    run(work)


@governance_app.command("promote")
def templates_promote(name: str) -> None:
    """End the rollout: its version takes every new start; the others are deactivated."""

    async def work() -> None:
        async with open_store() as store:
            rollout = await store.rollouts.get(name)
            if rollout is None:
                raise TriggerError(f"template: {name!r} has no rollout in progress")
            for params in await store.templates.versions(name):
                await store.templates.set_active(
                    name, params.version == rollout.version, params.version
                )
            await store.rollouts.clear(name)
        typer.echo(f"{name}: v{rollout.version} promoted to every new start")

    run(work)


@governance_app.command("rollback")
def templates_rollback(name: str) -> None:
    """End the rollout: its version is deactivated; new starts go back to the stable one."""

    async def work() -> None:
        async with open_store() as store:
            rollout = await store.rollouts.get(name)
            if rollout is None:
                raise TriggerError(f"template: {name!r} has no rollout in progress")
            await store.templates.set_active(name, False, rollout.version)
            await store.rollouts.clear(name)
            stable = await store.templates.active(name)
        back = f"v{stable.version}" if stable else "no active version"
        typer.echo(f"{name}: v{rollout.version} rolled back; new starts get {back}")

    run(work)

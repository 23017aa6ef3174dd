"""`followthrough templates validate|load|show|diff|activate|deactivate|simulate`.

Template files in, stored versions out, and dry runs of either before anything is started.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from activities.best_hour import ResponseHistoryActivities
from activities.families import FamilyActivities
from contracts import Channel, FamilyContextRequest, SequenceParams, channels, parse_duration
from contracts.webhook_rules import WebhookPolicy
from contracts.windows import AnswerHoursRequest
from followthrough import operations
from followthrough.platform.settings import Settings, SettingsError
from followthrough.simulate import simulate
from followthrough.templates import (
    TemplateFileError,
    check_messages,
    check_webhooks,
    read_template,
)
from starter.cli_runtime import fail, open_store, require_file, run
from starter.progress import Phases
from store import Store

templates_app = typer.Typer()


class TemplateLookupError(LookupError):
    """A template or version that is not in the store; the message names it."""


async def stored(store: Store, name: str, version: int | None = None) -> SequenceParams:
    """One stored version (the latest when `version` is None)."""
    params = (
        await store.templates.latest(name)
        if version is None
        else await store.templates.get(name, version)
    )
    if params is None:
        which = "" if version is None else f" version {version}"
        raise TemplateLookupError(f"template: no stored template {name!r}{which}")
    return params


def as_yaml(params: SequenceParams) -> str:
    """A stored template as the YAML an operator would write."""
    data = params.model_dump(mode="json", exclude_defaults=True)
    data = {"name": params.name, "version": params.version, **data}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


async def _with_store(work: Any) -> Any:
    async with open_store() as store:
        return await work(store)


@templates_app.command("validate")
def templates_validate(
    path: Annotated[Path | None, typer.Argument(help="A template file.")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Check every stored version instead of a file.")
    ] = False,
) -> None:
    """Check a template file, or every stored version (`--all`); problems are named by field."""
    if every:
        _validate_stored()
        return
    if path is None:
        fail("path: give a template file, or --all for the stored templates")
        return
    require_file(path)
    try:
        params = read_template(path, _policy())
    except TemplateFileError as err:
        fail(str(err))
        return
    typer.echo(f"{path}: ok ({params.name}, workflow {params.workflow})")


def _policy() -> WebhookPolicy:
    """The deployer's webhook rules; a malformed setting is one line naming it."""
    try:
        # Read now: `validate FILE` runs before (and without) any command's settings.
        return Settings.from_env().webhook_policy
    except SettingsError as err:
        fail(str(err))
        raise


def _validate_stored() -> None:
    policy = _policy()

    async def work(store: Store) -> list[str]:
        problems = []
        for latest in await store.templates.list_latest():
            for params in await store.templates.versions(latest.name):
                where = f"{params.name} v{params.version}" + " (active)" * params.active
                try:
                    check_messages(params, where)
                    check_webhooks(params, where, policy)
                except TemplateFileError as err:
                    problems.append(str(err))
                else:
                    typer.echo(f"{where}: ok")
        return problems

    problems = run(lambda: _with_store(work))
    for problem in problems:
        typer.secho(f"error: {problem}", fg=typer.colors.RED, err=True)
    if problems:
        raise typer.Exit(1)


@templates_app.command("load")
def templates_load(paths: list[Path]) -> None:
    """Validate and store template files; a changed template becomes the next version."""
    policy = _policy()
    try:
        parsed = [read_template(p, policy) for p in paths if require_file(p)]
    except TemplateFileError as err:
        fail(str(err))
        return

    async def work() -> None:
        async with open_store(migrated=True) as store:
            for name, version, created in await operations.load_templates(store, parsed):
                typer.echo(f"{name} v{version} {'loaded' if created else 'unchanged'}")

    run(work)


@templates_app.command("show")
def templates_show(
    name: str,
    version: Annotated[int | None, typer.Option(help="A version; the latest by default.")] = None,
) -> None:
    """Print one stored version of a template as YAML."""

    async def work(store: Store) -> None:
        params = await stored(store, name, version)
        state = "active" if params.active else "inactive"
        typer.echo(f"# {params.name} v{params.version} ({state})")
        typer.echo(as_yaml(params), nl=False)

    _run(lambda: _with_store(work))


@templates_app.command("diff")
def templates_diff(name: str, a: int, b: int) -> None:
    """What changed between two stored versions of a template."""

    async def work(store: Store) -> None:
        old, new = await stored(store, name, a), await stored(store, name, b)
        lines = difflib.unified_diff(
            as_yaml(old).splitlines(keepends=True),
            as_yaml(new).splitlines(keepends=True),
            fromfile=f"{name} v{a}",
            tofile=f"{name} v{b}",
        )
        text = "".join(lines)
        typer.echo(text if text else f"{name}: v{a} and v{b} have the same content", nl=False)
        if not text:
            typer.echo()

    _run(lambda: _with_store(work))


def _switch(active: bool) -> Any:
    def command(
        name: str,
        version: Annotated[
            int | None,
            typer.Option(help="One version; by default the latest (activate) or all (deactivate)."),
        ] = None,
    ) -> None:
        async def work(store: Store) -> None:
            versions = await store.templates.versions(name)
            if not versions:
                raise TemplateLookupError(f"template: no stored template {name!r}")
            if version is not None:
                chosen = [p.version for p in versions if p.version == version]
                if not chosen:
                    raise TemplateLookupError(f"version: {name!r} has no version {version}")
            elif active:
                chosen = [versions[-1].version]
            else:
                # Nothing new may start: an older active version would otherwise take over.
                chosen = [p.version for p in versions]
            for number in chosen:
                await store.templates.set_active(name, active, number)
            word = "activated" if active else "deactivated"
            typer.echo(f"{name} {word}: v{', v'.join(str(n) for n in chosen)}")

        _run(lambda: _with_store(work))

    command.__doc__ = (
        "Let new sequences start with a version (the latest by default)."
        if active
        else "Stop new sequences of a template (every version by default); running ones go on."
    )
    return command


templates_app.command("activate")(_switch(True))
templates_app.command("deactivate")(_switch(False))


@templates_app.command("simulate")
def templates_simulate(
    name: Annotated[str, typer.Argument(help="A stored template, or a template file.")],
    family: Annotated[str, typer.Option(help="Family id (its time zone and data are used).")],
    version: Annotated[int | None, typer.Option(help="A stored version.")] = None,
    respond_after: Annotated[
        str | None, typer.Option(help="The family replies after this long, e.g. 2d.")
    ] = None,
    respond_on: Annotated[str, typer.Option(help="Channel of that reply.")] = "email",
    decision: Annotated[
        str, typer.Option(help="At approval gates: approve, reject or none.")
    ] = "approve",
) -> None:
    """Dry-run a template: the real workflow, time skipped, nothing sent; prints the timeline."""
    if decision not in ("approve", "reject", "none"):
        fail(f"decision: {decision!r} is not one of approve, reject, none")
    try:
        after = None if respond_after is None else parse_duration(respond_after)
    except ValueError as err:
        fail(f"respond-after: {err}")
        return
    if channels.find(respond_on) is None:
        fail(f"respond-on: {respond_on!r} is not one of {', '.join(channels.names())}")

    async def work(store: Store) -> None:
        path = Path(name)
        params = read_template(path) if path.suffix in (".yaml", ".yml", ".json") else None
        if params is None:
            params = await stored(store, name, version)
        row = await store.families.get(family)
        if row is None:
            raise TemplateLookupError(f"family: no family with id {family!r}")
        context = await FamilyActivities(store).load_family_context(
            FamilyContextRequest(family_id=family)
        )
        facts = {
            **(row.attributes or {}),
            "engagement_score": row.engagement_score,
            "preferred_channel": row.preferred_channel,
            "opted_out": row.opted_out or [],
        }
        history = await ResponseHistoryActivities(store).answer_hours(
            AnswerHoursRequest(family_id=family)
        )
        phases = Phases("simulate")
        result = await simulate(
            params,
            context,
            facts,
            respond_after=after,
            respond_on=Channel(respond_on),
            decision=decision,
            answer_hours=history.hours,
            on_phase=phases,
        )
        phases.done()
        for line in result.lines():
            typer.echo(line)

    _run(lambda: _with_store(work))


def _run(work: Any) -> None:
    try:
        run(work)
    except (TemplateLookupError, TemplateFileError) as err:
        fail(str(err))

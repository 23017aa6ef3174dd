"""The signed-in app's reading pages beside the inbox: dashboard, sequence, family.

Every number comes from the store (`followthrough.reporting.dashboard`) and from visibility
counts; the sequence page also asks its one sequence for its `status` (who decided its
approvals). Charts are inline SVG from `followthrough.web.charts`, each with its numbers in
a table beside it. No page shows a message body or an address.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from temporalio.client import Client
from temporalio.service import RPCError

from followthrough import operations
from followthrough.platform.settings import Settings
from followthrough.reporting import dashboard
from followthrough.reporting.stats import MESSAGE_KINDS, Slo
from followthrough.web import charts, outcome_pictures
from store import Store
from store.accounts import Identity
from store.models import StepExecution

log = logging.getLogger(__name__)
# How long the sequence page waits for the sequence to answer its `status` query.
STATUS_WAIT = timedelta(seconds=3)

_pages = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates_html"),
    autoescape=select_autoescape(["html"]),
)


def run_link(settings: Settings, workflow_id: str, run_id: str | None = None) -> str:
    """The sequence (and, given, its run) in the Temporal Web UI."""
    base = settings.ui_url.rstrip("/")
    link = f"{base}/namespaces/{quote(settings.namespace)}/workflows/{quote(workflow_id)}"
    return f"{link}/{quote(run_id)}/history" if run_id else link


def moved(row: StepExecution) -> str:
    """Why the step's due time moved: the reason, `not moved`, or `unknown` on rows recorded
    before the timing was kept."""
    if row.due_reason is None:
        return "unknown"
    return row.due_reason or "not moved"


@dataclass
class Pages:
    """The dashboard, sequence and family pages over one client, store and sign-in."""

    client: Client
    store: Store
    settings: Settings
    who: Callable[[Request], Awaitable[Identity | None]]
    form_token: Callable[[Request], str]
    slo: Slo = Slo()

    def add_routes(self, app: FastAPI) -> None:
        """Register the pages on the app (the inbox's `create_app` calls this)."""
        for path, handler in (
            ("/dashboard", self.dashboard),
            ("/sequences/{workflow_id}", self.sequence),
            ("/families/{family_id}", self.family),
        ):
            app.add_api_route(path, handler, methods=["GET"], response_class=HTMLResponse)

    async def render(
        self, request: Request, template: str, *, status_code: int = 200, **values: Any
    ) -> Any:
        who = await self.who(request)
        if who is None:
            return RedirectResponse("/login", 303)
        html = _pages.get_template(template).render(
            name=who.name,
            role=who.role,
            csrf=self.form_token(request),
            ui_url=self.settings.ui_url,
            badge=lambda rating: Markup(charts.rating_badge(rating)),
            **values,
        )
        return HTMLResponse(html, status_code=status_code)

    async def dashboard(self, request: Request, template: str = "", version: int = 0) -> Any:
        if await self.who(request) is None:
            return RedirectResponse("/login", 303)
        # Replies, hours, weeks and first responses only for the version the page shows.
        reports = await dashboard.version_reports(self.store, self.slo, (template, version))
        ends = await asyncio.gather(*(self._ends(r.template, r.version) for r in reports))
        for report, found in zip(reports, ends, strict=True):
            report.ends = found
        chosen = next((r for r in reports if r.key == (template, version)), None)
        if chosen is None and reports and not template:
            chosen = reports[0]
        return await self.render(
            request,
            "dashboard.html",
            page="dashboard",
            reports=reports,
            chosen=chosen,
            slo=self.slo,
            pictures=_pictures(chosen) if chosen else {},
            lift=await outcome_pictures.lift_picture(self.store, chosen.template)
            if chosen
            else None,
            models=await outcome_pictures.calibration_pictures(self.store) if chosen else [],
            missing=f"{template} v{version}" if template and chosen is None else "",
        )

    async def _ends(self, template: str, version: int) -> dict[str, int | None]:
        try:
            return dict(await dashboard.end_counts(self.client, template, version))
        except RPCError as err:
            log.warning("no visibility counts for %s v%s: %s", template, version, err)
            return dict.fromkeys((*dashboard.ENDS, "running"))

    async def sequence(self, request: Request, workflow_id: str) -> Any:
        if await self.who(request) is None:
            return RedirectResponse("/login", 303)
        rows = await self.store.steps.for_workflow(workflow_id)
        tasks = await self.store.tasks.for_workflow(workflow_id)
        status, why, unknown = None, "", False
        try:
            # A query needs a worker: a page must not hang while none is running.
            status = await asyncio.wait_for(
                operations.status(self.client, workflow_id), STATUS_WAIT.total_seconds()
            )
        except (operations.OperationError, RPCError) as err:
            why = str(getattr(err, "message", "") or err)
            unknown = isinstance(err, operations.NoSequence) and not rows and not tasks
        except TimeoutError:
            why = f"no worker answered within {STATUS_WAIT.seconds} s"
        run_id = rows[-1].run_id if rows else None
        return await self.render(
            request,
            "sequence.html",
            status_code=404 if unknown else 200,
            workflow_id=workflow_id,
            rows=rows,
            tasks=tasks,
            status=status,
            status_missing=why,
            decisions=status.decisions if status else [],
            moved=moved,
            link=run_link(self.settings, workflow_id, run_id),
        )

    async def family(self, request: Request, family_id: str) -> Any:
        if await self.who(request) is None:
            return RedirectResponse("/login", 303)
        rows = await self.store.steps.for_family(family_id)
        sequences: dict[str, list[StepExecution]] = {}
        for row in rows:
            sequences.setdefault(row.workflow_id, []).append(row)
        found = await self.store.families.get(family_id)
        return await self.render(
            request,
            "family.html",
            status_code=404 if found is None and not rows else 200,
            family_id=family_id,
            timezone=found.timezone if found else None,
            known=found is not None,
            sequences=sequences,
            messages=[r for r in rows if r.kind in MESSAGE_KINDS],
        )


def _pictures(report: dashboard.VersionReport) -> dict[str, Markup]:
    """The chosen version's charts, as SVG the page inlines."""
    funnel = [charts.Bar("started", report.started)]
    funnel += [charts.Bar(s.step_id, s.reached, s.replied) for s in report.steps]
    funnel += [charts.Bar(end, report.ends.get(end) or 0) for end in dashboard.ENDS]
    channels = [_rate_bar(r) for r in report.by_channel.values()]
    hours = [_rate_bar(report.by_hour[h]) for h in sorted(report.by_hour)]
    buckets = [charts.Bar(label, count) for label, count in report.response_buckets()]
    weeks = [report.weeks[w] for w in sorted(report.weeks)]
    trends = charts.line_chart(
        "Weekly trends",
        [w.week for w in weeks],
        [
            charts.Series("sequences started", [w.started for w in weeks]),
            charts.Series("messages answered", [w.answered for w in weeks]),
        ],
    )
    return {
        "funnel": Markup(
            charts.bar_chart(
                "Sequences reaching each step", funnel, part_name="replied", whole_name="sequences"
            )
        ),
        "channels": Markup(charts.bar_chart("Response rate by channel", channels)),
        "hours": Markup(charts.bar_chart("Response rate by local hour", hours)),
        "first_response": Markup(charts.bar_chart("Time to first response", buckets)),
        "trends": Markup(trends),
    }


def _rate_bar(rate: dashboard.Rate) -> charts.Bar:
    share = rate.share
    text = "no sends" if share is None else f"{share:.0%} ({rate.answered}/{rate.sent})"
    return charts.Bar(rate.label, 100 * (share or 0.0), text=text)

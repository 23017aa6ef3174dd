"""The coordinator inbox: a small server-rendered web page over Temporal and the store.

It lists what needs a person — sequences waiting at an approval gate (from Temporal
visibility, `InterventionState = 'awaiting_approval'`, plus each one's `status` query) and open
coordinator tasks (calls, escalations) from the store — highest risk first, with the family's
context and the sequence's timeline. Each button sends the real update or signal and the page
shows what Temporal answered.

Who is acting comes from a name and role the coordinator enters once (kept in cookies); the
workflow itself checks the role against the template, so a wrong role is refused, never obeyed.
Every form carries a CSRF token bound to a per-browser cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from temporalio.client import Client
from temporalio.service import RPCError

from contracts import InterventionStatus, State, channels
from followthrough import operations
from followthrough.platform.settings import Settings
from followthrough.reporting import stats
from store import CoordinatorTask, Store
from store.families import context_of
from workflows.search_attributes import RISK_SCORE

log = logging.getLogger(__name__)

PAGES = Path(__file__).resolve().parent / "templates_html"
SESSION_COOKIE = "ft_session"
NAME_COOKIE, ROLE_COOKIE = "ft_name", "ft_role"
ACTIONS = ("approve", "reject", "resume", "skip", "cancel")
STATUS_TIMEOUT = timedelta(seconds=5)
_pages = Environment(loader=FileSystemLoader(PAGES), autoescape=select_autoescape(["html"]))


@dataclass
class Item:
    """One row of the inbox: a pending approval or an open task, with its sequence."""

    kind: str  # "approval" or the task kind (call, task, escalation)
    workflow_id: str
    family_id: str
    reason: str
    risk: float
    since: datetime | None
    family: dict[str, Any] = field(default_factory=dict)
    status: InterventionStatus | None = None
    task_id: int | None = None
    ui_link: str = ""


@dataclass
class InboxView:
    approvals: list[Item]
    tasks: list[Item]


def ui_link(settings: Settings, workflow_id: str) -> str:
    """The sequence's page in the Temporal Web UI."""
    base = settings.ui_url.rstrip("/")
    return f"{base}/namespaces/{quote(settings.namespace)}/workflows/{quote(workflow_id)}"


def _order(items: list[Item]) -> list[Item]:
    # Highest risk first; among equals, the newest first.
    return sorted(items, key=lambda i: (-i.risk, -(i.since.timestamp() if i.since else 0.0)))


async def _status(
    client: Client, workflow_id: str, run_id: str | None
) -> InterventionStatus | None:
    # The run the row belongs to, and an answer within seconds even if no worker replies.
    try:
        return await operations.status(client, workflow_id, run_id, timeout=STATUS_TIMEOUT)
    except (operations.OperationError, RPCError) as err:
        # A sequence whose worker is gone still belongs in the inbox, just without a timeline.
        log.warning("no status for %s: %s", workflow_id, err)
        return None


async def _family(store: Store, family_id: str) -> dict[str, Any]:
    row = await store.families.get(family_id)
    if row is None:
        return {}
    reach = context_of(row)
    return {
        "name": row.name,
        "timezone": row.timezone,
        # The channels the family can be contacted on, as the registry names them.
        "reachable": [channels.spec(c).label for c in reach.channels if c not in reach.opted_out],
        "preferred_channel": row.preferred_channel,
        "opted_out": row.opted_out,
        "engagement_score": row.engagement_score,
    }


async def _risks(client: Client, workflow_ids: list[str]) -> dict[str, float]:
    if not workflow_ids:
        return {}
    quoted = ", ".join(f"'{w}'" for w in sorted(set(workflow_ids)) if "'" not in w)
    risks: dict[str, float] = {}
    async for execution in client.list_workflows(f"WorkflowId IN ({quoted})"):
        risks.setdefault(execution.id, execution.typed_search_attributes.get(RISK_SCORE) or 0.0)
    return risks


async def gather(client: Client, store: Store, settings: Settings) -> InboxView:
    """What the inbox shows: pending approvals and open tasks, highest risk first."""
    approvals: list[Item] = []
    query = (
        "WorkflowId STARTS_WITH 'intervention-' AND ExecutionStatus = 'Running' "
        f"AND InterventionState = '{State.AWAITING_APPROVAL.value}'"
    )
    async for execution in client.list_workflows(query):
        status = await _status(client, execution.id, execution.run_id)
        # Visibility lags the workflow a little: trust the query over the search attribute.
        if status is None or status.pending_approval is None:
            continue
        approvals.append(
            Item(
                kind="approval",
                workflow_id=execution.id,
                family_id=status.family_id,
                reason=status.pending_approval.reason,
                risk=execution.typed_search_attributes.get(RISK_SCORE) or 0.0,
                since=status.pending_approval.since,
                family=await _family(store, status.family_id),
                status=status,
                ui_link=ui_link(settings, execution.id),
            )
        )
    open_tasks: list[CoordinatorTask] = await store.tasks.list_open()
    risks = await _risks(client, [t.workflow_id for t in open_tasks])
    task_runs = await store.steps.run_ids([t.idempotency_key for t in open_tasks])
    tasks = [
        Item(
            kind=task.kind,
            workflow_id=task.workflow_id,
            family_id=task.family_id,
            reason=task.reason,
            risk=risks.get(task.workflow_id, 0.0),
            since=task.created_at,
            family=await _family(store, task.family_id),
            status=await _status(client, task.workflow_id, task_runs.get(task.idempotency_key)),
            task_id=task.id,
            ui_link=ui_link(settings, task.workflow_id),
        )
        for task in open_tasks
    ]
    return InboxView(approvals=_order(approvals), tasks=_order(tasks))


class Csrf:
    """Tokens bound to a random per-browser cookie by an HMAC only the server can compute."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def token(self, session: str) -> str:
        return hmac.new(self._secret, session.encode(), hashlib.sha256).hexdigest()

    def check(self, session: str | None, token: str) -> None:
        if not session or not hmac.compare_digest(self.token(session), token):
            raise HTTPException(status_code=403, detail="csrf: missing or wrong form token")


async def perform(
    client: Client,
    store: Store,
    action: str,
    workflow_id: str,
    *,
    by: str,
    role: str,
    note: str = "",
) -> str:
    """Send one button's real update or signal; returns what to tell the coordinator."""
    if action in ("approve", "reject"):
        receipt = await operations.decide_now(client, workflow_id, action, by, role, note)
        done = "approved" if action == "approve" else "rejected"
        return f"{workflow_id}: {done} step {receipt.step_id}"
    if action in ("resume", "skip"):
        await operations.answer_escalation(client, workflow_id, action, by, note)
        return f"{workflow_id}: {action} sent"
    if action == "cancel":
        await operations.cancel(client, workflow_id, note or "cancelled from the inbox", by)
        return f"{workflow_id}: cancel sent"
    raise operations.OperationError(f"action: {action!r} is not one of {', '.join(ACTIONS)}")


def create_app(
    client: Client, store: Store, settings: Settings, *, secret: bytes | None = None
) -> FastAPI:
    """The inbox app over an already connected client and an open store; its routes, here."""
    app = FastAPI(title="Follow-through inbox", docs_url=None, redoc_url=None)
    inbox = Inbox(client, store, settings, Csrf(secret or secrets.token_bytes(32)))
    app.add_api_route("/", inbox.page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/identity", inbox.identity, methods=["POST"])
    app.add_api_route("/sequences/{workflow_id}/{action}", inbox.act, methods=["POST"])
    app.add_api_route("/tasks/{task_id}/done", inbox.task_done, methods=["POST"])
    return app


def back(message: str, ok: bool) -> RedirectResponse:
    # Post/redirect/get: reloading the page never sends a decision twice.
    return RedirectResponse("/?" + urlencode({"msg": message, "ok": int(ok)}), 303)


class Inbox:
    """The inbox's page and forms over one client, store and CSRF secret."""

    def __init__(self, client: Client, store: Store, settings: Settings, csrf: Csrf) -> None:
        self.client = client
        self.store = store
        self.settings = settings
        self.csrf = csrf
        self._slo_at = 0.0
        self._slo_lines: list[dict[str, str]] = []

    async def slo(self) -> list[dict[str, str]]:
        # The SLO summary reads many histories: refresh it at most once a minute.
        now = time.monotonic()
        if not self._slo_lines or now - self._slo_at > 60:
            try:
                report = await stats.collect(self.client, self.store, limit=200)
                self._slo_at, self._slo_lines = now, stats.slo_lines(report)
            except RPCError as err:
                log.warning("no SLO summary: %s", err)
        return self._slo_lines

    async def page(self, request: Request, msg: str = "", ok: int = 1) -> HTMLResponse:
        session = request.cookies.get(SESSION_COOKIE) or secrets.token_urlsafe(24)
        view = await gather(self.client, self.store, self.settings)
        html = _pages.get_template("inbox.html").render(
            view=view,
            csrf=self.csrf.token(session),
            name=request.cookies.get(NAME_COOKIE, ""),
            role=request.cookies.get(ROLE_COOKIE, ""),
            message=msg,
            ok=bool(ok),
            ui_url=self.settings.ui_url,
            slo=await self.slo(),
        )
        response = HTMLResponse(html)
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict")
        return response

    async def identity(
        self,
        request: Request,
        csrf_token: str = Form(...),
        name: str = Form(..., min_length=1, max_length=100),
        role: str = Form(..., min_length=1, max_length=50),
    ) -> RedirectResponse:
        self.csrf.check(request.cookies.get(SESSION_COOKIE), csrf_token)
        response = back(f"acting as {name} ({role})", True)
        for key, value in ((NAME_COOKIE, name), (ROLE_COOKIE, role)):
            response.set_cookie(key, value, httponly=True, samesite="strict")
        return response

    async def act(
        self,
        request: Request,
        workflow_id: str,
        action: str,
        csrf_token: str = Form(...),
        note: str = Form("", max_length=500),
    ) -> RedirectResponse:
        self.csrf.check(request.cookies.get(SESSION_COOKIE), csrf_token)
        by, role = request.cookies.get(NAME_COOKIE), request.cookies.get(ROLE_COOKIE)
        if not by or not role:
            return back("identity: enter your name and role first", False)
        try:
            said = await perform(
                self.client, self.store, action, workflow_id, by=by, role=role, note=note
            )
        except operations.OperationError as err:
            return back(str(err), False)
        except RPCError as err:
            return back(f"Temporal refused the request: {err.message}", False)
        return back(said, True)

    async def task_done(
        self, request: Request, task_id: int, csrf_token: str = Form(...), note: str = Form("")
    ) -> RedirectResponse:
        self.csrf.check(request.cookies.get(SESSION_COOKIE), csrf_token)
        by = request.cookies.get(NAME_COOKIE)
        if not by:
            return back("identity: enter your name and role first", False)
        task = await self.store.tasks.get(task_id)
        if task is None:
            return back(f"task: no coordinator task {task_id}", False)
        if task.status != "open":
            return back(f"task {task_id} was already {task.status}", False)
        task = await self.store.tasks.complete(task_id, by=by, note=note)
        if task.closed_by != by or task.status != "done":  # someone else closed it just now
            return back(f"task {task_id} was already {task.status}", False)
        return back(f"task {task_id} marked done", True)


async def serve(settings: Settings, host: str, port: int) -> None:
    """Run the inbox until Ctrl-C, on its own client and store."""
    import uvicorn

    from followthrough.platform.connection import connect

    client = await connect(settings)
    store = Store.from_url(settings.database_url)
    try:
        app = create_app(client, store, settings)
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info"))
        await server.serve()
    finally:
        await store.close()

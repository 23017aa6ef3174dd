"""The coordinator inbox: a small server-rendered web page over Temporal and the store.

It lists what needs a person — sequences waiting at an approval gate (from Temporal
visibility, `InterventionState = 'awaiting_approval'`, plus each one's `status` query) and open
coordinator tasks (calls, escalations) from the store — highest risk first, with the family's
context and the sequence's timeline. Each button sends the real update or signal and the page
shows what Temporal answered.

Every page and button needs a signed-in account (`followthrough.web.signin`): who acts and
with which role is read from the store, never from the request. The workflow itself checks
the role against the pending gate, so a wrong role is refused, never obeyed. Every form carries a
CSRF token bound to a per-browser cookie.
"""

from __future__ import annotations

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
from followthrough.web.pages import Pages
from followthrough.web.signin import Csrf, SignIn, SignInPolicy, SignInRefused, refusal
from store import CoordinatorTask, Store
from store.accounts import Identity
from store.families import context_of
from workflows.search_attributes import FAMILY_ID, RISK_SCORE

log = logging.getLogger(__name__)

PAGES = Path(__file__).resolve().parent / "templates_html"
# The browser's random cookie the CSRF tokens are bound to; the sign-in's session token.
SESSION_COOKIE = "ft_session"
AUTH_COOKIE = "ft_auth"
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
    risk: float | None  # None: started without a prediction (manual, event)
    since: datetime | None
    family: dict[str, Any] = field(default_factory=dict)
    status: InterventionStatus | None = None
    status_missing: str = ""  # why `status` could not be read
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
    return sorted(
        items,
        key=lambda i: (
            -(i.risk if i.risk is not None else -1.0),
            -(i.since.timestamp() if i.since else 0.0),
        ),
    )


async def _status(
    client: Client, workflow_id: str, run_id: str | None
) -> tuple[InterventionStatus | None, str]:
    """The run's status, or None and why not: within seconds, at once if no worker polls."""
    try:
        found = await operations.status(client, workflow_id, run_id, timeout=STATUS_TIMEOUT)
    except (operations.OperationError, RPCError) as err:
        # Still listed, without a timeline: its row says why (not logged for every view).
        log.debug("no status for %s: %s", workflow_id, err)
        return None, str(getattr(err, "message", "") or err)
    return found, ""


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


async def _risks(client: Client, workflow_ids: list[str]) -> dict[str, float | None]:
    if not workflow_ids:
        return {}
    quoted = ", ".join(f"'{w}'" for w in sorted(set(workflow_ids)) if "'" not in w)
    risks: dict[str, float | None] = {}
    async for execution in client.list_workflows(f"WorkflowId IN ({quoted})"):
        risks.setdefault(execution.id, execution.typed_search_attributes.get(RISK_SCORE))
    return risks


async def gather(client: Client, store: Store, settings: Settings) -> InboxView:
    """What the inbox shows: pending approvals and open tasks, highest risk first."""
    approvals: list[Item] = []
    query = (
        "WorkflowId STARTS_WITH 'intervention-' AND ExecutionStatus = 'Running' "
        f"AND InterventionState = '{State.AWAITING_APPROVAL.value}'"
    )
    async for execution in client.list_workflows(query):
        status, missing = await _status(client, execution.id, execution.run_id)
        # Visibility lags the workflow a little: trust the query over the search attribute.
        if status is not None and status.pending_approval is None:
            continue
        # Unreadable, it still waits for a person: listed from its search attributes.
        pending = status.pending_approval if status is not None else None
        attributes = execution.typed_search_attributes
        family_id = status.family_id if status else attributes.get(FAMILY_ID) or "?"
        approvals.append(
            Item(
                kind="approval",
                workflow_id=execution.id,
                family_id=family_id,
                reason=pending.reason if pending else "an approval (its status could not be read)",
                risk=attributes.get(RISK_SCORE),
                since=pending.since if pending else execution.start_time,
                family=await _family(store, family_id),
                status=status,
                status_missing=missing,
                ui_link=ui_link(settings, execution.id),
            )
        )
    open_tasks: list[CoordinatorTask] = await store.tasks.list_open()
    risks = await _risks(client, [t.workflow_id for t in open_tasks])
    task_runs = await store.steps.run_ids([t.idempotency_key for t in open_tasks])
    tasks: list[Item] = []
    for task in open_tasks:
        run_id = task_runs.get(task.idempotency_key)
        status, missing = await _status(client, task.workflow_id, run_id)
        tasks.append(
            Item(
                kind=task.kind,
                workflow_id=task.workflow_id,
                family_id=task.family_id,
                reason=task.reason,
                risk=risks.get(task.workflow_id),
                since=task.created_at,
                family=await _family(store, task.family_id),
                status=status,
                status_missing=missing,
                task_id=task.id,
                ui_link=ui_link(settings, task.workflow_id),
            )
        )
    return InboxView(approvals=_order(approvals), tasks=_order(tasks))


async def perform(
    client: Client,
    store: Store,
    action: str,
    workflow_id: str,
    *,
    who: Identity,
    note: str = "",
) -> str:
    """Send one button's real update or signal as `who`; returns what to tell them."""
    by, role = who.name, who.role
    if action in ("approve", "reject"):
        receipt = await operations.decide_now(
            client, workflow_id, action, by, role, note, signed_in=True
        )
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
    client: Client,
    store: Store,
    settings: Settings,
    *,
    secret: bytes | None = None,
    policy: SignInPolicy | None = None,
) -> FastAPI:
    """The signed-in web app (inbox, dashboard, sequence and family pages) over an already
    connected client and an open store; its routes, here."""
    app = FastAPI(title="Follow-through", docs_url=None, redoc_url=None)
    csrf = Csrf(secret or secrets.token_bytes(32))
    inbox = Inbox(client, store, settings, csrf, SignIn(store, settings, policy))
    app.add_api_route("/", inbox.page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/login", inbox.login_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/login", inbox.login, methods=["POST"])
    app.add_api_route("/logout", inbox.logout, methods=["POST"])
    app.add_api_route("/sequences/{workflow_id}/{action}", inbox.act, methods=["POST"])
    app.add_api_route("/tasks/{task_id}/done", inbox.task_done, methods=["POST"])
    Pages(client, store, settings, inbox.who, inbox.form_token).add_routes(app)
    return app


def back(message: str, ok: bool, page: str = "/") -> RedirectResponse:
    # Post/redirect/get: reloading the page never sends a decision twice.
    return RedirectResponse(page + "?" + urlencode({"msg": message, "ok": int(ok)}), 303)


def _browser(request: Request) -> str:
    return request.cookies.get(SESSION_COOKIE) or secrets.token_urlsafe(24)


def _set_cookie(response: Any, request: Request, key: str, value: str, **more: Any) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(key, value, httponly=True, samesite="strict", secure=secure, **more)


class Inbox:
    """The inbox's page and forms over one client, store and CSRF secret."""

    def __init__(
        self, client: Client, store: Store, settings: Settings, csrf: Csrf, signin: SignIn
    ) -> None:
        self.client = client
        self.store = store
        self.settings = settings
        self.csrf = csrf
        self.signin = signin
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

    def form_token(self, request: Request) -> str:
        """The CSRF token for this browser's forms (the sign-out button on every page)."""
        return self.csrf.token(request.cookies.get(SESSION_COOKIE) or "")

    async def who(self, request: Request) -> Identity | None:
        """The signed-in account behind the request, read from the store; None: nobody."""
        return await self.signin.identity(request.cookies.get(AUTH_COOKIE), request.headers)

    async def acting(
        self, request: Request, csrf_token: str, action: str
    ) -> Identity | RedirectResponse:
        """Who takes `action` (CSRF checked first), or the page saying why they may not."""
        self.csrf.check(request.cookies.get(SESSION_COOKIE), csrf_token)
        who = await self.who(request)
        if who is None:
            raise HTTPException(status_code=401, detail="sign-in: sign in first")
        why = refusal(who, action)
        return who if why is None else back(why, False)

    async def page(self, request: Request, msg: str = "", ok: int = 1) -> Any:
        who = await self.who(request)
        if who is None:
            return RedirectResponse("/login", 303)
        session = _browser(request)
        view = await gather(self.client, self.store, self.settings)
        html = _pages.get_template("inbox.html").render(
            page="inbox",
            view=view,
            csrf=self.csrf.token(session),
            name=who.name,
            role=who.role,
            message=msg,
            ok=bool(ok),
            ui_url=self.settings.ui_url,
            slo=await self.slo(),
        )
        response = HTMLResponse(html)
        _set_cookie(response, request, SESSION_COOKIE, session)
        return response

    async def login_page(self, request: Request, msg: str = "", ok: int = 1) -> HTMLResponse:
        session = _browser(request)
        html = _pages.get_template("login.html").render(
            csrf=self.csrf.token(session), message=msg, ok=bool(ok)
        )
        response = HTMLResponse(html)
        _set_cookie(response, request, SESSION_COOKIE, session)
        return response

    async def login(
        self,
        request: Request,
        csrf_token: str = Form(...),
        name: str = Form(..., max_length=100),
        password: str = Form(..., max_length=1000),
    ) -> RedirectResponse:
        self.csrf.check(request.cookies.get(SESSION_COOKIE), csrf_token)
        try:
            token, who = await self.signin.sign_in(name, password)
        except SignInRefused as err:
            log.warning("sign-in refused for %r: %s", name[:100], err)
            return back(str(err), False, "/login")
        response = back(f"signed in as {who.name} ({who.role})", True)
        max_age = int(self.signin.policy.session_for.total_seconds())
        _set_cookie(response, request, AUTH_COOKIE, token, max_age=max_age)
        return response

    async def logout(self, request: Request, csrf_token: str = Form(...)) -> RedirectResponse:
        self.csrf.check(request.cookies.get(SESSION_COOKIE), csrf_token)
        await self.signin.sign_out(request.cookies.get(AUTH_COOKIE))
        response = back("signed out", True, "/login")
        response.delete_cookie(AUTH_COOKIE)
        return response

    async def act(
        self,
        request: Request,
        workflow_id: str,
        action: str,
        csrf_token: str = Form(...),
        note: str = Form("", max_length=500),
    ) -> RedirectResponse:
        who = await self.acting(request, csrf_token, action)
        if isinstance(who, RedirectResponse):
            return who
        try:
            said = await perform(self.client, self.store, action, workflow_id, who=who, note=note)
        except operations.OperationError as err:
            return back(str(err), False)
        except RPCError as err:
            return back(f"Temporal refused the request: {err.message}", False)
        return back(said, True)

    async def task_done(
        self, request: Request, task_id: int, csrf_token: str = Form(...), note: str = Form("")
    ) -> RedirectResponse:
        who = await self.acting(request, csrf_token, "done")
        if isinstance(who, RedirectResponse):
            return who
        by = who.name
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

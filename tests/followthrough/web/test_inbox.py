"""The coordinator inbox against the real dev server, through FastAPI's ASGI client."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError

from contracts import InterventionResult, State
from followthrough import operations
from followthrough.platform.settings import Settings
from followthrough.triggers.start import start_sequence
from followthrough.web.inbox import _family, create_app, gather
from followthrough.web.signin import hash_password
from store import Store
from workflows.search_attributes import FAMILY_ID, STATE

PASSWORD = "a long test password"


async def end_leftover(client: Client, workflow_id: str) -> None:
    """Tests share one dev server: end a run an earlier test left open under this id."""
    with contextlib.suppress(RPCError):  # nothing running under that id
        await client.get_workflow_handle(workflow_id).terminate("a new test starts")


async def start_quick(client: Client, store: Store, settings: Settings, family: str) -> str:
    """The demo sequence with one-second waits, at its approval gate within seconds."""
    params = await store.templates.active("demo_quick_intervention")
    assert params is not None
    params = params.model_copy(
        update={"delays": {"wait_for_reply": timedelta(seconds=1), "call_after": timedelta(0)}}
    )
    await end_leftover(client, f"intervention-demo_quick_intervention-{family}")
    outcome = await start_sequence(
        client, params, family, task_queue=settings.task_queue, prediction=None
    )
    assert outcome.started and outcome.workflow_id, outcome.message
    return outcome.workflow_id


async def until(check: Any, what: str, tries: int = 150) -> Any:
    for _ in range(tries):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"never: {what}")


def inbox_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://inbox")


def token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, "no csrf token on the page"
    return found.group(1)


async def account(store: Store, name: str, role: str) -> None:
    """An account with the test password (made once per store)."""
    if await store.accounts.get(name) is None:
        await store.accounts.add(name, hash_password(PASSWORD), role)


async def sign_in(http: httpx.AsyncClient, name: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; returns the page's CSRF token."""
    form = await http.get("/login")
    answer = await http.post(
        "/login",
        data={"csrf_token": token(form.text), "name": name, "password": password},
        follow_redirects=True,
    )
    assert f"signed in as {name}" in answer.text, answer.text
    return token(answer.text)


async def test_inbox_approve_refuse_cancel_and_done(dev_client, dev_worker, store, settings):
    settings = Settings(task_queue=settings.task_queue, ui_url="http://ui.test:8233")
    approve_id = await start_quick(dev_client, store, settings, "F1")
    cancel_id = await start_quick(dev_client, store, settings, "F3")

    async def both_waiting() -> bool:
        view = await gather(dev_client, store, settings)
        ids = {i.workflow_id for i in view.approvals}
        return {approve_id, cancel_id} <= ids

    await until(both_waiting, "both sequences listed as awaiting approval")
    await account(store, "pat", "parent")
    await account(store, "sarah", "coordinator")
    app = create_app(dev_client, store, settings, secret=b"k" * 32)
    async with inbox_client(app) as http:
        await sign_in(http, "pat")
        page = await http.get("/")
        assert page.status_code == 200
        html = page.text
        assert approve_id in html and "Martinez" in html and "Haddad" in html
        assert "Demo: no reply to email or SMS" in html
        # Started by hand, without a prediction: no made-up risk of 0%.
        assert "no prediction" in html and "risk 0%" not in html
        assert f"http://ui.test:8233/namespaces/default/workflows/{approve_id}" in html
        assert "first_email" in html and "first_sms" in html  # the timeline so far
        assert re.search(r'<div class="(green|amber|red)">(GREEN|AMBER|RED) +demo_quick', html)
        csrf = token(html)

        # Without the form token nothing is sent.
        bad = await http.post(f"/sequences/{approve_id}/approve", data={"csrf_token": "0" * 64})
        assert bad.status_code == 403
        # A token from another browser session does not work either.
        async with inbox_client(app) as other:
            await other.get("/")
            stolen = await other.post(f"/sequences/{approve_id}/approve", data={"csrf_token": csrf})
            assert stolen.status_code == 403

        # A role the template does not allow is refused at once, and the page says so.
        refused = await http.post(
            f"/sequences/{approve_id}/approve", data={"csrf_token": csrf}, follow_redirects=True
        )
        assert "refused: role: &#39;parent&#39; may not decide" in refused.text
        assert (await operations.status(dev_client, approve_id)).state == State.AWAITING_APPROVAL

        await http.post("/logout", data={"csrf_token": csrf})
        csrf = await sign_in(http, "sarah")
        done = await http.post(
            f"/sequences/{approve_id}/approve",
            data={"csrf_token": csrf, "note": "call them"},
            follow_redirects=True,
        )
        assert f"{approve_id}: approved step call" in done.text
        # The decision names the signed-in account, as signed in.
        decided = (await operations.status(dev_client, approve_id)).decisions[-1]
        assert (decided["approver"], decided["role"], decided["identity"]) == (
            "sarah",
            "coordinator",
            "signed_in",
        )
        result = await dev_client.get_workflow_handle(
            approve_id, result_type=InterventionResult
        ).result()
        assert result.outcome == "call scheduled"

        cancelled = await http.post(
            f"/sequences/{cancel_id}/cancel",
            data={"csrf_token": csrf, "note": "family moved"},
            follow_redirects=True,
        )
        assert f"{cancel_id}: cancel sent" in cancelled.text
        result = await dev_client.get_workflow_handle(
            cancel_id, result_type=InterventionResult
        ).result()
        assert result.state == State.CANCELLED

        # The approved call is now an open task in the inbox; marking it done closes it.
        (task,) = [t for t in await store.tasks.list_open("call") if t.workflow_id == approve_id]
        page = await http.get("/")
        assert f'data-task="{task.id}"' in page.text
        closed = await http.post(
            f"/tasks/{task.id}/done", data={"csrf_token": csrf}, follow_redirects=True
        )
        assert f"task {task.id} marked done" in closed.text
        stored = await store.tasks.get(task.id)
        assert stored is not None and stored.status == "done" and stored.closed_by == "sarah"
        again = await http.post(
            f"/tasks/{task.id}/done", data={"csrf_token": csrf}, follow_redirects=True
        )
        assert f"task {task.id} was already done" in again.text
        unknown = await http.post(
            f"/sequences/{approve_id}/explode", data={"csrf_token": csrf}, follow_redirects=True
        )
        assert "action: &#39;explode&#39; is not one of" in unknown.text


async def test_an_approval_is_listed_when_its_status_cannot_be_read(
    dev_client, dev_worker, store, settings, monkeypatch
):
    workflow_id = await start_quick(dev_client, store, settings, "F2")

    async def waiting() -> bool:
        view = await gather(dev_client, store, settings)
        return workflow_id in {i.workflow_id for i in view.approvals}

    await until(waiting, "the sequence listed as awaiting approval")

    async def no_status(client: Client, workflow_id: str, *_: Any, **__: Any) -> Any:
        raise operations.OperationError("status: the query timed out")

    monkeypatch.setattr(operations, "status", no_status)
    view = await gather(dev_client, store, settings)
    (item,) = [i for i in view.approvals if i.workflow_id == workflow_id]
    assert item.status is None and item.family_id == "F2"
    assert item.reason == "an approval (its status could not be read)"
    assert item.since is not None and item.family["timezone"]
    await account(store, "sarah", "coordinator")
    app = create_app(dev_client, store, settings, secret=b"k" * 32)
    async with inbox_client(app) as http:
        await sign_in(http, "sarah")
        html = (await http.get("/")).text
    assert workflow_id in html and "timeline unavailable" in html
    await operations.cancel(dev_client, workflow_id, "test over", "test")


async def test_the_family_line_names_the_channels_it_can_be_reached_on(store):
    await store.families.opt_out("F1", "sms")
    assert (await _family(store, "F1"))["reachable"] == ["email", "call"]
    assert (await _family(store, "F3"))["reachable"] == ["SMS", "call"]  # no email address


async def test_an_approval_no_worker_can_read_says_why(dev_client, store, settings):
    """Visibility says a run awaits approval; no worker polls its queue, so the inbox lists it
    with the reason its timeline is missing, without waiting for a query to time out."""
    queue = f"nobody-polls-{uuid.uuid4()}"
    workflow_id = f"intervention-quick-{uuid.uuid4()}"
    attributes = TypedSearchAttributes(
        [
            SearchAttributePair(STATE, State.AWAITING_APPROVAL.value),
            SearchAttributePair(FAMILY_ID, "F1"),
        ]
    )
    await dev_client.start_workflow(
        "Intervention", id=workflow_id, task_queue=queue, search_attributes=attributes
    )

    async def listed() -> bool:
        view = await gather(dev_client, store, settings)
        return workflow_id in {i.workflow_id for i in view.approvals}

    await until(listed, "the run listed as awaiting approval")
    view = await gather(dev_client, store, settings)
    (item,) = [i for i in view.approvals if i.workflow_id == workflow_id]
    assert item.status is None and item.family_id == "F1"
    assert item.status_missing == (
        f"status: no worker is polling task queue {queue!r}, so the sequence cannot answer"
        " (start one: `followthrough worker`)"
    )
    await dev_client.get_workflow_handle(workflow_id).terminate("test over")

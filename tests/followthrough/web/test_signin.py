"""Inbox sign-in: forged cookies, lockout, logout, roles from the store, the proxy header."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from datetime import timedelta

import httpx

from followthrough import operations
from followthrough.platform.settings import Settings
from followthrough.web.inbox import AUTH_COOKIE, create_app, gather
from followthrough.web.signin import SSO_SECRET_HEADER, SignIn, SignInPolicy, SignInRefused
from tests.followthrough.web.test_inbox import (
    PASSWORD,
    account,
    inbox_client,
    sign_in,
    start_quick,
    token,
    until,
)

STRICT = SignInPolicy(max_failures=3, lock_for=timedelta(hours=1))


async def login_form(http: httpx.AsyncClient) -> str:
    return token((await http.get("/login")).text)


async def test_a_forged_cookie_gets_nothing(dev_client, store, settings):
    await account(store, "sarah", "coordinator")
    app = create_app(dev_client, store, settings)
    async with inbox_client(app) as http:
        csrf = await login_form(http)
        # Yesterday's identity cookies, and a made-up session token.
        for name, value in (
            ("ft_name", "sarah"),
            ("ft_role", "coordinator"),
            (AUTH_COOKIE, secrets.token_urlsafe(32)),
        ):
            http.cookies.set(name, value)
        page = await http.get("/")
        assert page.status_code == 303 and page.headers["location"] == "/login"
        for action in ("approve", "cancel", "resume", "skip"):
            forged = await http.post(
                f"/sequences/intervention-x-F1/{action}", data={"csrf_token": csrf}
            )
            assert forged.status_code == 401, action
            assert forged.json() == {"detail": "sign-in: sign in first"}
        done = await http.post("/tasks/1/done", data={"csrf_token": csrf})
        assert done.status_code == 401


async def test_roles_come_from_the_store_and_a_viewer_only_reads(dev_client, store, settings):
    await account(store, "vic", "viewer")
    await account(store, "bill", "billing")
    app = create_app(dev_client, store, settings)
    async with inbox_client(app) as http:
        csrf = await sign_in(http, "vic")
        http.cookies.set("ft_role", "coordinator")  # ignored
        for action in ("approve", "reject", "cancel", "resume", "skip"):
            refused = await http.post(
                f"/sequences/intervention-x-F1/{action}",
                data={"csrf_token": csrf},
                follow_redirects=True,
            )
            assert "role: &#39;viewer&#39; may only read the inbox" in refused.text, action
        await http.post("/logout", data={"csrf_token": csrf})

        csrf = await sign_in(http, "bill")
        cancel = await http.post(
            "/sequences/intervention-x-F1/cancel", data={"csrf_token": csrf}, follow_redirects=True
        )
        assert "role: &#39;billing&#39; may not cancel" in cancel.text


async def test_lockout_after_repeated_failures(store):
    await account(store, "sarah", "coordinator")
    signin = SignIn(store, Settings(), STRICT)
    # Concurrent guesses are counted one by one: the store counts them in one UPDATE each.
    guesses = await asyncio.gather(
        *(signin.sign_in("sarah", f"guess {n}") for n in range(3)), return_exceptions=True
    )
    assert all(isinstance(g, SignInRefused) for g in guesses)
    try:
        await signin.sign_in("sarah", PASSWORD)
    except SignInRefused as err:
        assert "too many failed attempts; locked until" in str(err)
    else:
        raise AssertionError("a locked account signed in")
    locked = await store.accounts.get("sarah")
    assert locked is not None and locked.locked_until is not None


async def test_a_wrong_name_and_a_wrong_password_read_the_same(store):
    await account(store, "sarah", "coordinator")
    signin = SignIn(store, Settings(), STRICT)
    answers = []
    for name, password in (("nobody", PASSWORD), ("sarah", "not the password")):
        try:
            await signin.sign_in(name, password)
        except SignInRefused as err:
            answers.append(str(err))
    assert answers == ["sign-in: wrong name or password"] * 2


async def test_logout_ends_the_session_on_the_server(dev_client, store, settings):
    await account(store, "sarah", "coordinator")
    app = create_app(dev_client, store, settings)
    async with inbox_client(app) as http:
        csrf = await sign_in(http, "sarah")
        kept = http.cookies[AUTH_COOKIE]
        out = await http.post("/logout", data={"csrf_token": csrf}, follow_redirects=True)
        assert "signed out" in out.text
        http.cookies.set(AUTH_COOKIE, kept)  # the old token, replayed
        again = await http.get("/")
        assert again.status_code == 303 and again.headers["location"] == "/login"


async def test_the_proxy_header_is_off_by_default_and_needs_the_secret(dev_client, store, settings):
    await account(store, "sarah", "coordinator")
    secret = "proxy-shared-secret-123"
    headers = {"X-Remote-User": "sarah", SSO_SECRET_HEADER: secret}
    async with inbox_client(create_app(dev_client, store, settings)) as http:
        assert (await http.get("/", headers=headers)).status_code == 303
    on = dataclasses.replace(settings, inbox_sso_header="X-Remote-User", inbox_sso_secret=secret)
    async with inbox_client(create_app(dev_client, store, on)) as http:
        page = await http.get("/", headers=headers)
        assert page.status_code == 200 and ">sarah</strong> (coordinator)" in page.text
        wrong = {**headers, SSO_SECRET_HEADER: "guessed-secret-1234567"}
        assert (await http.get("/", headers=wrong)).status_code == 303
        unknown = {**headers, "X-Remote-User": "mallory"}
        assert (await http.get("/", headers=unknown)).status_code == 303


async def test_a_decision_from_outside_the_inbox_is_marked_declared(
    dev_client, dev_worker, store, settings
):
    workflow_id = await start_quick(dev_client, store, settings, "F1")

    async def waiting() -> bool:
        view = await gather(dev_client, store, settings)
        return any(i.workflow_id == workflow_id for i in view.approvals)

    await until(waiting, "the sequence awaiting approval")
    await operations.decide_now(dev_client, workflow_id, "approve", "sam", "coordinator")
    decided = (await operations.status(dev_client, workflow_id)).decisions[-1]
    assert (decided["approver"], decided["identity"]) == ("sam", "declared")
    await dev_client.get_workflow_handle(workflow_id).result()

"""End to end in headless Chromium: sign in, approve a pending sequence, see it move on.

A forged cookie gets only the sign-in page; a viewer's approval is refused; a coordinator's
goes through.

Debian's chromium is driven by Playwright through `executable_path` (Playwright never
downloads a browser here). In CI the browser must be present (`make test` installs it);
elsewhere the test is skipped with the reason when it is not.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from contracts import InterventionResult, State
from followthrough import operations
from followthrough.platform.devserver import free_port
from followthrough.web.inbox import AUTH_COOKIE, create_app, gather
from tests.followthrough.web.test_inbox import PASSWORD, account, start_quick, until

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(
        f"{CHROMIUM} not found: install Debian's chromium (make test does) to run browser tests",
        allow_module_level=True,
    )


async def sign_in_as(page: Any, name: str) -> None:
    from playwright.async_api import expect

    await page.fill('#login input[name="name"]', name)
    await page.fill('#login input[name="password"]', PASSWORD)
    await page.click('#login button[type="submit"]')
    await expect(page.locator("#flash")).to_contain_text(f"signed in as {name}")


async def test_sign_in_and_approve_in_the_browser(
    dev_client, dev_worker, store, settings, tmp_path
):
    from playwright.async_api import async_playwright, expect

    await account(store, "vic", "viewer")
    await account(store, "sarah", "coordinator")
    workflow_id = await start_quick(dev_client, store, settings, "F2")

    async def waiting() -> bool:
        view = await gather(dev_client, store, settings)
        return any(i.workflow_id == workflow_id for i in view.approvals)

    await until(waiting, "the sequence listed as awaiting approval")
    port = free_port()
    app = create_app(dev_client, store, settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    shots = Path(os.environ.get("INBOX_SCREENSHOT_DIR", tmp_path))
    await asyncio.to_thread(shots.mkdir, parents=True, exist_ok=True)
    try:
        await until(lambda: asyncio.sleep(0, server.started), "the inbox server to start")
        async with async_playwright() as pw:
            # Playwright gives the browser a new empty profile of its own on every launch.
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                base = f"http://127.0.0.1:{port}"
                # A forged cookie gets the sign-in page and nothing of the inbox.
                context = await browser.new_context(viewport={"width": 1200, "height": 900})
                await context.add_cookies(
                    [
                        {"name": n, "value": v, "url": base}
                        for n, v in (
                            ("ft_name", "sarah"),
                            ("ft_role", "coordinator"),
                            (AUTH_COOKIE, "forged-session-token"),
                        )
                    ]
                )
                page = await context.new_page()
                await page.goto(f"{base}/")
                await expect(page).to_have_url(f"{base}/login")
                await expect(page.locator("body")).not_to_contain_text("Okafor")
                await expect(page.locator("section.approval")).to_have_count(0)

                # A viewer sees the sequence but cannot approve it.
                await sign_in_as(page, "vic")
                card = page.locator(f'section.approval[data-workflow="{workflow_id}"]')
                await expect(card).to_contain_text("Okafor")
                await expect(card).to_contain_text("Demo: no reply to email or SMS")
                await card.get_by_role("button", name="Approve").click()
                await expect(page.locator("#flash")).to_contain_text(
                    "role: 'viewer' may only read the inbox"
                )
                st = await operations.status(dev_client, workflow_id)
                assert st.state == State.AWAITING_APPROVAL and st.decisions == []
                await page.get_by_role("button", name="Sign out").click()
                await expect(page.locator("#flash")).to_contain_text("signed out")

                # A coordinator approves.
                await sign_in_as(page, "sarah")
                await page.screenshot(path=str(shots / "inbox-before.png"), full_page=True)
                await card.locator('input[name="note"]').fill("please call this week")
                await card.get_by_role("button", name="Approve").click()
                await expect(page.locator("#flash")).to_contain_text(
                    f"{workflow_id}: approved step call"
                )
                handle = dev_client.get_workflow_handle(workflow_id, result_type=InterventionResult)
                result = await handle.result()
                assert result.state == State.COMPLETED and result.outcome == "call scheduled"

                # It moved on: no longer awaiting approval, its call task is now in the inbox.
                await page.reload()
                await expect(
                    page.locator(f'section.approval[data-workflow="{workflow_id}"]')
                ).to_have_count(0)
                task = page.locator(f'section.task[data-workflow="{workflow_id}"]')
                await expect(task).to_contain_text("call #")
                await page.screenshot(path=str(shots / "inbox-after.png"), full_page=True)
            finally:
                await browser.close()
    finally:
        server.should_exit = True
        await serving
        st = await operations.status(dev_client, workflow_id)
        if st.state not in (State.COMPLETED, State.CANCELLED, State.FAILED):
            await dev_client.get_workflow_handle(workflow_id).terminate("test cleanup")

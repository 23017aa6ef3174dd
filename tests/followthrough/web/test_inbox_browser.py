"""End to end in headless Chromium: load the inbox, approve a pending sequence, see it move on.

Debian's chromium is driven by Playwright through `executable_path` (Playwright never
downloads a browser here). In CI the browser must be present (`make test` installs it);
elsewhere the test is skipped with the reason when it is not.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import uvicorn

from contracts import InterventionResult, State
from followthrough import operations
from followthrough.platform.devserver import free_port
from followthrough.web.inbox import create_app, gather
from tests.followthrough.web.test_inbox import start_quick, until

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


async def test_approve_in_the_browser(dev_client, dev_worker, store, settings, tmp_path):
    from playwright.async_api import async_playwright, expect

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
                page = await browser.new_page(viewport={"width": 1200, "height": 900})
                await page.goto(f"http://127.0.0.1:{port}/")
                card = page.locator(f'section.approval[data-workflow="{workflow_id}"]')
                await expect(card).to_contain_text("Okafor")
                await expect(card).to_contain_text("Demo: no reply to email or SMS")

                await page.fill('#identity input[name="name"]', "sarah")
                await page.fill('#identity input[name="role"]', "coordinator")
                await page.click('#identity button[type="submit"]')
                await expect(page.locator("#flash")).to_contain_text("acting as sarah")
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

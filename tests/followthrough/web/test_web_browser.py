"""The signed-in web app in headless Chromium: the dashboard's funnel matches the store,
a sequence's page opens from the inbox, an approval there moves the dashboard."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import uvicorn

from contracts import InterventionResult, State
from followthrough.platform.devserver import free_port
from followthrough.reporting.dashboard import version_reports
from followthrough.triggers.pipeline import StartRequest, start_intervention
from followthrough.web.inbox import create_app, gather
from tests.followthrough.web.test_inbox import account, end_leftover, until
from tests.followthrough.web.test_inbox_browser import ARGS, CHROMIUM, sign_in_as

TEMPLATE = "demo_quick_intervention"


async def start_through_the_pipeline(client: Any, store: Any, settings: Any) -> str:
    """The demo sequence with one-second waits, started as every trigger starts one (so the
    store records its start)."""
    params = await store.templates.active(TEMPLATE)
    params = params.model_copy(
        update={"delays": {"wait_for_reply": timedelta(seconds=1), "call_after": timedelta(0)}}
    )
    await end_leftover(client, f"intervention-{TEMPLATE}-F2")
    request = StartRequest(params=params, family_id="F2", triggered_by="test")
    outcome = await start_intervention(client, request, task_queue=settings.task_queue, store=store)
    assert outcome.workflow_id, outcome.message
    return outcome.workflow_id


async def funnel_on_page(page: Any) -> dict[str, str]:
    """The funnel table as the page shows it: step → sequences."""
    rows = await page.locator("#funnel tr[data-step]").all()
    return {
        await row.get_attribute("data-step"): (await row.locator("td").nth(2).inner_text()).strip()
        for row in rows
    }


async def funnel_in_store(store: Any, version: int) -> dict[str, str]:
    reports = {r.key: r for r in await version_reports(store)}
    report = reports[TEMPLATE, version]
    return {"started": str(report.started)} | {s.step_id: str(s.reached) for s in report.steps}


async def test_dashboard_sequence_page_and_approval_in_the_browser(
    dev_client, dev_worker, store, settings
):
    from playwright.async_api import async_playwright, expect

    await account(store, "sarah", "coordinator")
    params = await store.templates.active(TEMPLATE)
    assert params is not None
    workflow_id = await start_through_the_pipeline(dev_client, store, settings)

    async def waiting() -> bool:
        view = await gather(dev_client, store, settings)
        return any(i.workflow_id == workflow_id for i in view.approvals)

    await until(waiting, "the sequence listed as awaiting approval")
    port = free_port()
    app = create_app(dev_client, store, settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    base = f"http://127.0.0.1:{port}"
    dashboard = f"{base}/dashboard?template={TEMPLATE}&version={params.version}"
    try:
        await until(lambda: asyncio.sleep(0, server.started), "the web app to start")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1300, "height": 900})
                outside: list[str] = []

                def record(request: Any) -> None:
                    if not request.url.startswith(base):
                        outside.append(request.url)

                page.on("request", record)
                await page.goto(dashboard)
                await expect(page).to_have_url(f"{base}/login")
                await sign_in_as(page, "sarah")

                # The funnel's numbers are the store's.
                await page.goto(dashboard)
                await expect(page.locator("#chosen")).to_have_text(f"{TEMPLATE} v{params.version}")
                before = await funnel_on_page(page)
                stored = await funnel_in_store(store, params.version)
                assert {k: before[k] for k in stored} == stored
                assert "call" not in stored and before["started"] == "1"
                completed_before = int(before["completed"])
                await expect(page.locator("#funnel svg")).to_have_attribute(
                    "aria-label", "Sequences reaching each step"
                )

                # From the inbox to the sequence's page.
                await page.click("nav >> text=Inbox")
                card = page.locator(f'section.approval[data-workflow="{workflow_id}"]')
                await card.get_by_role("link", name="sequence page").click()
                await expect(page.locator("h1")).to_have_text(f"Sequence {workflow_id}")
                await expect(page.locator("#timeline li[data-step=first_email]")).to_contain_text(
                    "sent"
                )
                await expect(page.locator("#timeline")).to_contain_text("moved:")
                await expect(page.locator("#state")).to_have_text("awaiting_approval")
                link = await page.locator("#temporal-link").get_attribute("href")
                assert link is not None and f"/workflows/{workflow_id}/" in link

                # Approve it from the inbox; the sequence page names who approved.
                await page.goto(f"{base}/")
                await card.get_by_role("button", name="Approve").click()
                await expect(page.locator("#flash")).to_contain_text("approved step call")
                handle = dev_client.get_workflow_handle(workflow_id, result_type=InterventionResult)
                assert (await handle.result()).state == State.COMPLETED
                await page.goto(f"{base}/sequences/{workflow_id}")
                await expect(page.locator("#approvals")).to_contain_text("sarah")
                await expect(page.locator("#approvals")).to_contain_text("signed_in")

                # The dashboard moved: the call step is reached and one more completed.
                async def moved() -> dict[str, str] | None:
                    await page.goto(dashboard)
                    after = await funnel_on_page(page)
                    done = after.get("call") == "1" and int(after["completed"]) > completed_before
                    return after if done else None

                after = await until(moved, "the dashboard to show the call and the completion")
                stored = await funnel_in_store(store, params.version)
                assert {k: after[k] for k in stored} == stored
                assert outside == [], f"the pages fetched from outside: {outside}"
            finally:
                await browser.close()
    finally:
        server.should_exit = True
        await serving

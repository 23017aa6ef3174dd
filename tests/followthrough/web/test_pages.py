"""The dashboard, sequence and family pages through the ASGI client, over known store rows."""

from __future__ import annotations

import re
import uuid

from followthrough.platform.settings import Settings
from followthrough.web.inbox import create_app
from tests.followthrough.reporting.test_dashboard import write
from tests.followthrough.web.test_inbox import account, inbox_client, sign_in


def cell(html: str, step: str, column: int) -> str:
    row = re.search(rf'<tr data-step="{step}">(.*?)</tr>', html, re.S)
    assert row, f"no funnel row for {step}"
    return re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)[column].strip()


async def test_pages_need_a_signed_in_account(dev_client, store, settings):
    async with inbox_client(create_app(dev_client, store, settings)) as http:
        for path in ("/dashboard", "/sequences/intervention-t-a", "/families/F1"):
            answer = await http.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/login", path


async def test_dashboard_sequence_and_family_pages(dev_client, store):
    await write(store)
    await account(store, "vic", "viewer")
    settings = Settings(ui_url="http://ui.test:8233", namespace="default")
    async with inbox_client(create_app(dev_client, store, settings)) as http:
        await sign_in(http, "vic")
        page = (await http.get("/dashboard?template=t&version=1")).text
        assert '<h2 id="chosen">t v1</h2>' in page
        assert cell(page, "started", 2) == "3"
        assert (cell(page, "first_email", 2), cell(page, "answered", 3)) == ("2", "1")
        assert cell(page, "first_sms", 2) == "1"
        assert cell(page, "completed", 2) == "0"  # visibility has no sequence of t
        assert page.count("<svg") == 5 and "http" not in page.split("<svg", 1)[1].split("</svg>")[
            0
        ].replace("http://www.w3.org/2000/svg", "")
        # No template t in the store and no prediction: both said in words, not drawn.
        assert "no template named &#39;t&#39;" in page
        assert "No predictions of untreated families yet: nothing to calibrate." in page
        assert "GREEN" in page and 'data-version="t v2"' in page
        missing = (await http.get("/dashboard?template=nope&version=3")).text
        assert "No sequences of nope v3 in the store." in missing

        sequence = (await http.get("/sequences/intervention-t-b")).text
        assert "moved: quiet hours until 08:00" in sequence
        assert "moved: unknown" in sequence  # b's first email has no timing: recorded "before"
        assert "Decisions unavailable" in sequence
        assert (
            'href="http://ui.test:8233/namespaces/default/workflows/intervention-t-b/run-b/history"'
            in sequence
        )

        family = (await http.get("/families/F2")).text
        assert "intervention-t-a" in family and "first_email" in family
        assert "okafor@example.org" not in family and "Okafor" not in family


async def test_the_sequence_page_says_when_no_worker_can_answer(dev_client, store):
    queue = f"nobody-polls-{uuid.uuid4()}"
    workflow_id = f"intervention-t-{uuid.uuid4()}"
    await dev_client.start_workflow("Intervention", id=workflow_id, task_queue=queue)
    await account(store, "vic", "viewer")
    async with inbox_client(create_app(dev_client, store, Settings())) as http:
        await sign_in(http, "vic")
        page = (await http.get(f"/sequences/{workflow_id}")).text
    assert (
        f"Decisions unavailable: status: no worker is polling task queue &#39;{queue}&#39;" in page
    )
    await dev_client.get_workflow_handle(workflow_id).terminate("test over")


async def test_a_sequence_or_family_nobody_knows_is_not_found(dev_client, store):
    await write(store)
    await account(store, "vic", "viewer")
    async with inbox_client(create_app(dev_client, store, Settings())) as http:
        await sign_in(http, "vic")
        unknown = f"intervention-t-{uuid.uuid4()}"
        sequence = await http.get(f"/sequences/{unknown}")
        assert sequence.status_code == 404
        assert f"workflow id: no sequence &#39;{unknown}&#39;" in sequence.text
        family = await http.get("/families/F-nobody")
        assert family.status_code == 404 and "not in the store" in family.text
        # Known to the store though Temporal has no run of it: found, from the audit trail.
        assert (await http.get("/sequences/intervention-t-b")).status_code == 200
        assert (await http.get("/families/F2")).status_code == 200

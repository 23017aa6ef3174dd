"""`starter/embedded.py`: the demo it loads and the guide it prints."""

from __future__ import annotations

from followthrough.platform.settings import Settings
from followthrough.web.signin import SignIn
from starter.embedded import demo_admin, load_demo, print_guide


async def test_the_demo_starts_its_sequences_and_the_guide_names_them(
    dev_client, store, settings, capsys
):
    started = await load_demo(dev_client, store, settings)
    assert "intervention-high_risk_intervention-F1001" in started
    assert any("demo_quick" in workflow_id for workflow_id in started)
    password = await demo_admin(store)
    print_guide(Settings(ui_url="http://ui:8233/"), started, password)
    out = capsys.readouterr().out
    assert "Web UI:             http://ui:8233/namespaces/default/workflows" in out
    quick = next(w for w in started if "demo_quick" in w)
    assert f"followthrough approve {quick} --by sarah --role coordinator" in out
    assert f"sign in as admin with password {password} (role director" in out
    # The printed login works, and a second run gives a new password.
    _, admin = await SignIn(store, Settings()).sign_in("admin", password)
    assert (admin.name, admin.role) == ("admin", "director")
    assert await demo_admin(store) != password
    for workflow_id in started:
        await dev_client.get_workflow_handle(workflow_id).terminate("test over")

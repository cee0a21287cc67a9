"""The web UI for the fediverse actor: follow requests held for approval, follower count and
delivery progress on the dashboard, the per-inbox ledger and Delete on a message's page."""

from __future__ import annotations

import re

from tests.harness import Harness, eventually
from tests.peers.mastodon_ap import AP, MastodonAP
from tests.web.fediverse_fixtures import fedi_masto, fedi_web  # noqa: F401 - fixtures
from tests.web.web_session import login


async def test_requests_wait_for_approval_and_the_dashboard_counts(
    web: Harness, masto: MastodonAP
) -> None:
    me = f"{web.url}/users/status"
    for name in ("alice", "bob"):
        assert await masto.send(name, f"{web.url}/inbox", masto.follow(name, me)) == 202
    assert masto.delivered("Accept") == []  # held: nothing sent yet
    s, csrf = await login(web.url, web.tokens["operator"])
    async with s:
        async with s.get(web.url + "/ui/") as r:
            text = await r.text()
        assert re.search(r"<strong>0</strong> followers \(2 awaiting approval\)", text)
        for name, verdict in (("alice", "approve"), ("bob", "reject")):
            form = {"csrf": csrf, "actor": masto.actor_id(name), "verdict": verdict}
            async with s.post(web.url + "/ui/fediverse/requests", data=form) as r:
                assert r.status == 200 and r.url.path == "/ui/fediverse"
        async with s.post(web.url + "/ui/fediverse/requests",
                          data={"csrf": csrf, "actor": masto.actor_id("bob"), "verdict": "approve"}) as r:  # fmt: skip
            assert r.status == 404  # already answered
        await eventually(lambda: len(masto.received) == 2)
        assert [r["path"] for r in masto.delivered("Accept")] == ["/users/alice/inbox"]
        assert [r["path"] for r in masto.delivered("Reject")] == ["/users/bob/inbox"]
        async with s.get(web.url + "/ui/fediverse") as r:
            page = await r.text()
        assert masto.actor_id("alice") in page and masto.actor_id("bob") not in page

        m = await web.post(text="Approved followers only.")
        await web.wait_state(m["id"], "delivered")
        await eventually(lambda: len(masto.delivered("Create")) == 1)
        await eventually(lambda: _delivered(web, m["id"]))
        async with s.get(web.url + f"/ui/messages/{m['id']}") as r:
            text = await r.text()
        assert "Fediverse servers: 1 reached, 0 pending, 0 failed" in text


async def _delivered(h: Harness, message_id: int) -> bool:
    return await h.daemon.store.ap_delivery_counts(message_id) == {"delivered": 1}


async def test_a_post_deleted_from_the_fediverse_is_gone_everywhere(
    web: Harness, masto: MastodonAP
) -> None:
    me = f"{web.url}/users/status"
    await masto.send("alice", f"{web.url}/inbox", masto.follow("alice", me))
    await web.daemon.store.ap_approve_follower(masto.actor_id("alice"), web.daemon.clock.now())
    m = await web.post(text="Posted by mistake.")
    await web.wait_state(m["id"], "delivered")
    await eventually(lambda: len(masto.delivered("Create")) == 1)
    s, csrf = await login(web.url, web.tokens["publisher"])
    async with s:
        async with s.post(
            web.url + f"/ui/messages/{m['id']}/fediverse-delete", data={"csrf": csrf}
        ) as r:
            assert r.status == 200
        async with s.post(
            web.url + f"/ui/messages/{m['id']}/fediverse-delete", data={"csrf": csrf}
        ) as r:
            assert r.status == 409
        await eventually(lambda: len(masto.delivered("Delete")) == 1)
        delete = masto.delivered("Delete")[0]["activity"]
        assert (
            delete["object"]["type"] == "Tombstone"
            and delete["object"]["id"] == f"{me}/posts/{m['id']}"
        )
        async with s.get(f"{me}/posts/{m['id']}", headers={"Accept": AP}) as r:
            assert r.status == 410
        async with s.get(f"{me}/outbox", headers={"Accept": AP}) as r:
            assert (await r.json(content_type=None))["totalItems"] == 0


async def test_a_corrected_post_reaches_followers_as_an_update(
    web: Harness, masto: MastodonAP
) -> None:
    me = f"{web.url}/users/status"
    await masto.send("alice", f"{web.url}/inbox", masto.follow("alice", me))
    await web.daemon.store.ap_approve_follower(masto.actor_id("alice"), web.daemon.clock.now())
    m = await web.post(text="Checkout is down in EU.", content_warning="Outage")
    await web.wait_state(m["id"], "delivered")
    await eventually(lambda: len(masto.delivered("Create")) == 1)
    s, csrf = await login(web.url, web.tokens["publisher"])
    async with s:
        form = {
            "csrf": csrf,
            "text": "Checkout is down in EU and US. #incident",
            "content_warning": "Outage",
        }
        async with s.post(web.url + f"/ui/messages/{m['id']}/fediverse-update", data=form) as r:
            assert r.status == 200
        async with s.post(web.url + f"/ui/messages/{m['id']}/fediverse-update",
                          data={**form, "text": "  "}) as r:  # fmt: skip
            assert r.status == 400
        await eventually(lambda: len(masto.delivered("Update")) == 1)
        created = masto.delivered("Create")[0]["activity"]["object"]
        updated = masto.delivered("Update")[0]["activity"]["object"]
        assert updated["id"] == created["id"] and updated["published"] == created["published"]
        assert (
            "EU and US" in updated["content"]
            and updated["updated"]
            and updated["summary"] == "Outage"
        )
        assert updated["tag"] == [
            {"type": "Hashtag", "href": f"{web.url}/tags/incident", "name": "#incident"}
        ]
        async with s.get(f"{me}/posts/{m['id']}", headers={"Accept": AP}) as r:
            assert "EU and US" in (await r.json(content_type=None))["content"]

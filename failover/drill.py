"""`failover drill`: force a channel down for a while, send a marked test message, report
what happened where and how fast, then give the channel back to its probes.

A drill is internal by default: the daemon marks the forced outage as a drill, so its
announcements go to the operators' ``[alerts]`` channels (prefixed "[drill]") and the test
message goes there too. Customers see nothing: no fake outage, no "please ignore", no false
"reachable again" on the public page or the feeds. ``public=True`` drills the real route,
public channels included, still marked as a drill in every event.
"""

from __future__ import annotations

import asyncio
from typing import Any

from failover.client import ApiError, Client
from failover.config import ALERTS_ROUTE

DEFAULT_TEXT = "[drill] failover test — please ignore"


async def run_drill(
    client: Client,
    channel: str,
    duration: float,
    route: str | None = None,
    text: str = DEFAULT_TEXT,
    public: bool = False,
) -> dict[str, Any]:
    """Run one drill; the report: test message id, timed steps, its deliveries, pass/fail."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    steps: dict[str, float] = {}
    kind = "public" if public else "internal"
    await client.request(
        "POST", f"/api/v1/channels/{channel}/force", body={"state": "down", "drill": kind}
    )
    steps["force down"] = loop.time() - t0
    msg: dict[str, Any] | None = None
    first_delivery: dict[str, float] = {}
    try:
        posted_at = loop.time()
        msg = await _post_test_message(client, text, route, public)
        steps["message accepted"] = loop.time() - posted_at
        deadline = t0 + max(duration, 5.0)
        msg = await _follow(client, msg, posted_at, deadline, first_delivery)
        if first_delivery:
            steps["first delivery"] = min(first_delivery.values())
        remaining = deadline - loop.time()
        if remaining > 0:
            await asyncio.sleep(remaining)
    finally:
        if msg is not None:
            await _cancel_rest(client, msg["id"])
        restored_at = loop.time()
        await _restore(client, channel, kind, msg)
        steps["restore to auto"] = loop.time() - restored_at
    return _report(msg, channel, public, steps, first_delivery)


async def _post_test_message(
    client: Client, text: str, route: str | None, public: bool
) -> dict[str, Any]:
    """Post the test message: to the operators' alerts route, or (public) the real one."""
    body: dict[str, Any] = {"text": text, "route": (route if public else ALERTS_ROUTE)}
    if public and not route:
        del body["route"]  # the daemon's default route
    try:
        msg: dict[str, Any] = await client.request("POST", "/api/v1/messages", body=body)
    except ApiError as exc:
        if exc.status == 422 and exc.field == "route" and not public:
            raise ApiError(
                422, "no operators to drill with",
                "a drill sends its test message to the [alerts] channels: configure "
                "[alerts], or pass --public to drill the real route", "route",
            ) from None  # fmt: skip
        raise
    return msg


async def _restore(client: Client, channel: str, kind: str, msg: dict[str, Any] | None) -> None:
    """Give the channel back to its probes, the drill named on the test message's timeline."""
    back: dict[str, Any] = {"state": "auto", "drill": kind}
    if msg is not None:
        back["message_id"] = msg["id"]  # the test message's timeline says "drill" too
    await client.request("POST", f"/api/v1/channels/{channel}/force", body=back)


def _report(
    msg: dict[str, Any],
    channel: str,
    public: bool,
    steps: dict[str, float],
    first_delivery: dict[str, float],
) -> dict[str, Any]:
    """Passed when the test message reached some channel other than the one taken down."""
    deliveries = [
        {
            "channel": d["channel"],
            "state": d["state"],
            "url": d["url"],
            "after_s": first_delivery.get(d["channel"]),
        }
        for d in msg["deliveries"]
    ]
    passed = any(d["state"] == "delivered" and d["channel"] != channel for d in deliveries)
    return {
        "message_id": msg["id"],
        "public": public,
        "steps": steps,
        "deliveries": deliveries,
        "passed": passed,
    }


async def _follow(
    client: Client,
    msg: dict[str, Any],
    posted_at: float,
    deadline: float,
    first_delivery: dict[str, float],
) -> dict[str, Any]:
    """Poll the test message until nothing is left in flight (or the drill ends)."""
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        msg = await client.request("GET", f"/api/v1/messages/{msg['id']}")
        for d in msg["deliveries"]:
            if d["state"] == "delivered" and d["channel"] not in first_delivery:
                first_delivery[d["channel"]] = loop.time() - posted_at
        if msg["deliveries"] and all(
            d["state"] not in ("pending", "sending") for d in msg["deliveries"]
        ):
            break
        await asyncio.sleep(0.05)
    return msg


async def _cancel_rest(client: Client, message_id: int) -> None:
    """The test message must not be backfilled to the primary when it comes back."""
    try:
        await client.request("POST", f"/api/v1/messages/{message_id}/cancel")
    except ApiError as exc:
        if exc.status != 409:  # 409: nothing left pending, fine
            raise

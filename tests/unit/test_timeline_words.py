"""The timeline speaks in sentences with display names: what a support agent reads at 2 a.m."""

from __future__ import annotations

from typing import Any

import pytest

from failover.timeline import details, sentence

LABELS = {"x": "X", "masto": "Mastodon", "status": "Status page", "hook": "Ops webhook"}


def label(name: str | None) -> str:
    return LABELS.get(name or "", name or "")


def ev(kind: str, channel: str | None = None, **detail: Any) -> dict[str, Any]:
    return {"kind": kind, "channel": channel, "detail": detail, "actor": "web:alice"}


@pytest.mark.parametrize(
    ("event", "said"),
    [
        (ev("delivery.delivered", "masto", url="https://m.example/1"), "Posted on Mastodon"),
        (ev("channel.down", "x", **{"from": "up", "to": "down",
            "reason": "3 failures in a row — http: HTTP 503"}), "X is down: 3 failed checks in a row"),
        (ev("channel.down", "x", reason="send error rate 75% over 60s — send: HTTP 500"),
         "X is down: 75% of recent posts failed"),
        (ev("message.rerouted", "x", **{"from": "x", "to": ["masto", "status"],
            "reason": "x is down: 3 failures in a row — http: HTTP 503"}),
         "Moved to the next channels (Mastodon, Status page): X is down"),
        (ev("channel.up", "x", **{"from": "down", "to": "up"}), "X is back up"),
        (ev("message.accepted", channels=["masto"], skipped={"x": "missing secrets: "
            "channels.x.consumer_key: environment variable X_CONSUMER_KEY is not set"}),
         "Accepted for Mastodon; skipped X (not connected: credentials missing)"),
        (ev("channel.forced", "hook", state="down"), "alice marked Ops webhook as down by hand"),
        (ev("channel.forced", "hook", state="auto"),
         "alice handed Ops webhook back to automatic health checks"),
        (ev("delivery.dead", "hook", error="HTTP 503: busy", attempts=8),
         "Gave up on Ops webhook after 8 tries: HTTP 503: busy"),
        (ev("subscriber.hook_gave_up", "hook", subscriber=12, attempts=5, error="HTTP 503"),
         "Gave up on webhook subscriber 12 after 5 tries: HTTP 503"),
        (ev("message.cancelled", channels=["x", "hook"]),
         "Cancelled: stopped what was pending on X, Ops webhook"),
    ],
)  # fmt: skip
def test_events_read_as_sentences(event: dict[str, Any], said: str) -> None:
    assert sentence(event, label) == said


def test_the_full_detail_stays_on_demand_and_nothing_is_an_event_kind() -> None:
    long_error = "HTTP 400: " + "x" * 300
    event = ev("delivery.failed", "hook", error=long_error)
    said = sentence(event, label)
    assert said.startswith("Ops webhook refused it: HTTP 400: xxx") and len(said) < 120
    assert long_error in details(event)
    assert sentence(ev("some.new_kind", "x"), label) == "Some new kind (X)"  # never "some.new_kind"

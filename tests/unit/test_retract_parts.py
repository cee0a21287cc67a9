"""What retract takes down of a delivery: every posted part, also of a thread that failed
halfway; nothing of what is still pending or being sent (cancel's business)."""

from __future__ import annotations

from datetime import UTC, datetime

from failover.model import Delivery, DeliveryState
from failover.retract import _parts, published

T0 = datetime(2026, 11, 26, tzinfo=UTC)
PART = {"remote_id": "1", "url": "https://x.example/1", "extra": {"id": "1"}}


def delivery(state: DeliveryState, **kw: object) -> Delivery:
    return Delivery(id=1, message_id=1, channel="x", tier=0, state=state, due_at=T0, **kw)  # type: ignore[arg-type]


def test_a_delivered_thread_and_a_thread_that_failed_halfway_are_public() -> None:
    done = delivery(DeliveryState.DELIVERED, receipt={"parts": [PART, PART]})
    assert published(done) and len(_parts(done)) == 2
    halfway = delivery(DeliveryState.DEAD, progress={"parts": [PART], "total": 3})
    assert published(halfway) and _parts(halfway) == [PART]
    old_style = delivery(DeliveryState.DELIVERED, remote_id="9", url="u", receipt={"id": "9"})
    assert _parts(old_style) == [{"remote_id": "9", "url": "u", "extra": {"id": "9"}}]


def test_nothing_pending_sending_or_never_posted_is_taken_down() -> None:
    assert not published(delivery(DeliveryState.PENDING))
    assert not published(delivery(DeliveryState.SENDING, progress={"parts": [PART]}))
    assert not published(delivery(DeliveryState.FAILED))
    assert not published(delivery(DeliveryState.SKIPPED))

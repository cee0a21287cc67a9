"""The HTTP plumbing every adapter shares: a failed request as the core's errors (against a
real local server that refuses, hangs and resets), Retry-After, and body excerpts."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime

import aiohttp
import pytest
from multidict import CIMultiDict

from channels.base import IMAGE_EXTENSIONS, IMAGE_TYPES, TransientError
from channels.http import excerpt, network_errors, retry_after
from tests.peers.faults import Fault
from tests.peers.webhook_receiver import WebhookReceiver


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as r:
        yield r


async def _post(url: str, *, write: bool) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as session:
        with network_errors("Example", write=write):
            async with session.post(url, json={"text": "hi"}) as resp:
                await resp.read()


@pytest.mark.parametrize("write", [True, False])
async def test_a_refused_connection_never_reached_the_platform(
    receiver: WebhookReceiver, write: bool
) -> None:
    await receiver.server.stop_listening()
    with pytest.raises(TransientError, match="cannot connect to Example") as info:
        await _post(f"{receiver.server.url}/hook", write=write)
    assert not info.value.maybe_delivered
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)


@pytest.mark.parametrize("write", [True, False])
@pytest.mark.parametrize(
    ("fault", "words"),
    [(Fault.HANG, "no answer in time from Example"), (Fault.RESET, "connection to Example lost")],
)
async def test_a_hang_or_a_reset_may_have_delivered_a_write(
    receiver: WebhookReceiver, write: bool, fault: Fault, words: str
) -> None:
    receiver.server.set_fault(fault)
    with pytest.raises(TransientError, match=words) as info:
        await _post(f"{receiver.server.url}/hook", write=write)
    assert info.value.maybe_delivered is write


async def test_an_answer_passes_through_untouched(receiver: WebhookReceiver) -> None:
    await _post(f"{receiver.server.url}/hook", write=True)
    assert [r.body for r in receiver.received] == [{"text": "hi"}]


def test_other_errors_are_not_network_errors() -> None:
    with pytest.raises(KeyError), network_errors("Example", write=True):
        raise KeyError("not ours")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": " 2.5 "}, 2.5),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": ["3"]}, 3.0),  # slack-sdk hands header values as lists
        ({"Retry-After": "soon"}, 30.0),
        ({"Retry-After": "-5"}, 30.0),
        ({"Other": "1"}, 30.0),
        ({}, 30.0),
        (None, 30.0),
        (CIMultiDict({"RETRY-AFTER": "9"}), 9.0),
    ],
)
def test_retry_after_in_seconds(headers: dict[str, object] | None, expected: float) -> None:
    assert retry_after(headers, 30.0) == expected


def test_retry_after_as_an_http_date() -> None:
    later = format_datetime(datetime.fromtimestamp(time.time() + 120, UTC), usegmt=True)
    assert 100 < retry_after({"Retry-After": later}, 30.0) <= 121
    earlier = format_datetime(datetime.fromtimestamp(time.time() - 120, UTC), usegmt=True)
    assert retry_after({"Retry-After": earlier}, 30.0) == 0.0


def test_excerpt_is_one_short_line() -> None:
    assert excerpt("  <h1>Bad\n  Gateway</h1>\n") == "<h1>Bad Gateway</h1>"
    assert excerpt(" \n ") == "(empty body)"
    long = "x" * 500
    assert excerpt(long) == "x" * 160 + "…"
    assert excerpt(long, limit=10) == "x" * 10 + "…"
    assert excerpt("x" * 160) == "x" * 160


def test_every_image_type_has_an_extension() -> None:
    assert frozenset(IMAGE_EXTENSIONS) == IMAGE_TYPES
    assert {"image/png", "image/jpeg", "image/gif", "image/webp"} == IMAGE_TYPES

"""The HTTP plumbing every adapter shares: a failed request as the core's errors (against a
real local server that refuses, hangs and resets), Retry-After, body excerpts, and the verdict
of a credential check."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime

import aiohttp
import pytest
from multidict import CIMultiDict

from channels.base import (
    IMAGE_EXTENSIONS,
    IMAGE_TYPES,
    CheckResult,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from channels.http import check_credentials, excerpt, network_errors, retry_after
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


async def _raises(exc: Exception) -> str:
    raise exc


async def _me() -> str:
    return "acme"


async def test_a_credential_check_that_answers_says_who_we_are() -> None:
    got = await check_credentials(_me(), lambda name: f"authenticated as @{name}")
    assert got == CheckResult(ok=True, detail="authenticated as @acme")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            RateLimitedError("slow down", retry_after=5),
            CheckResult(ok=True, detail="credentials accepted (rate limited)"),
        ),
        (
            PermanentError("token revoked", status=401, credentials=True),
            CheckResult(ok=False, detail="token revoked", credentials=True),
        ),
        (
            PermanentError("account suspended", status=403),
            CheckResult(ok=False, detail="account suspended"),
        ),
        (TransientError("no answer in time"), CheckResult(ok=False, detail="no answer in time")),
    ],
)
async def test_a_credential_check_that_fails_says_why(
    error: Exception, expected: CheckResult
) -> None:
    assert await check_credentials(_raises(error), str) == expected


async def test_an_adapter_may_count_more_refusals_as_credentials() -> None:
    def refused(exc: PermanentError) -> bool:
        return exc.status in (401, 403)

    forbidden = PermanentError("forbidden", status=403)
    got = await check_credentials(_raises(forbidden), str, refused=refused)
    assert got == CheckResult(ok=False, detail="forbidden", credentials=True)
    gone = PermanentError("not found", status=404)
    assert not (await check_credentials(_raises(gone), str, refused=refused)).credentials


async def test_other_errors_escape_a_credential_check() -> None:
    with pytest.raises(ValueError, match="a bug"):
        await check_credentials(_raises(ValueError("a bug")), str)

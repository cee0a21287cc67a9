"""The actor's pure parts: draft-cavage signatures, Note HTML, Mastodon's retry schedule,
per-host breaker and unavailability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.activitypub.content import to_html
from channels.activitypub.signatures import (
    SignatureError,
    new_private_key,
    parse,
    public_pem,
    sign,
    verify,
)
from channels.base import PermanentError, RateLimitedError, TransientError
from failover.activitypub.hosts import BREAKER_FAILURES, UNAVAILABLE_DAYS, after_failure
from failover.retry import INBOX_RETRIES, inbox_decision

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY = new_private_key()
URL = "https://social.example/users/alice/inbox"
BODY = b'{"type": "Follow"}'


def signed(body: bytes = BODY, now: datetime = NOW, key: str = KEY) -> dict[str, str]:
    return sign("POST", URL, {"content-type": "application/activity+json"},
                key_id="https://a.example/u#k", private_pem=key, now=now, body=body)  # fmt: skip


def check(headers: dict[str, str], body: bytes = BODY, now: datetime = NOW) -> None:
    verify("POST", "/users/alice/inbox", headers, body, parse(headers), public_pem(KEY), now)


def test_a_signed_post_verifies_and_covers_what_mastodon_wants() -> None:
    headers = signed()
    check(headers)
    params = parse(headers)
    assert params.headers == ("(request-target)", "host", "date", "digest", "content-type")
    assert headers["host"] == "social.example" and headers["digest"].startswith("SHA-256=")
    check({**headers, "signature": headers["signature"].replace("rsa-sha256", "hs2019")})


def test_stale_forged_and_tampered_requests_are_refused() -> None:
    check(signed(now=NOW - timedelta(minutes=59)))  # within the hour: fine
    with pytest.raises(SignatureError, match="more than an hour"):
        check(signed(now=NOW - timedelta(minutes=61)))
    with pytest.raises(SignatureError, match="more than an hour"):
        check(signed(now=NOW + timedelta(minutes=61)))
    with pytest.raises(SignatureError, match="does not verify"):
        check(signed(key=new_private_key()))
    with pytest.raises(SignatureError, match="Digest does not match"):
        check(signed(), body=BODY + b" ")
    headers = signed()
    with pytest.raises(SignatureError, match="does not verify"):
        check({**headers, "content-type": "text/plain"})  # a signed header changed
    with pytest.raises(SignatureError, match="no Signature"):
        parse({"date": headers["date"]})
    with pytest.raises(SignatureError, match="not supported"):
        parse({"signature": 'keyId="k",algorithm="hmac-sha256",signature="AAAA"'})


def test_note_html_links_hashtags_and_escapes_everything_else() -> None:
    r = to_html(
        "<b>Down</b> & out: https://acme.example/i/1.\n#Outage #outage\n\nnext", "https://s/tags/"
    )
    assert r.html.startswith("<p>&lt;b&gt;Down&lt;/b&gt; &amp; out: ")
    assert '<a href="https://acme.example/i/1" rel="nofollow noopener noreferrer">' in r.html
    assert (
        '<a href="https://s/tags/outage" class="mention hashtag" rel="tag">#<span>Outage</span></a>'
        in r.html
    )
    assert r.html.endswith("<p>next</p>") and r.hashtags == ("Outage",)
    assert (
        "javascript:"
        not in to_html("javascript:alert(1) #x", "https://s/tags/").html.split('href="')[-1]
    )


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_note_html_never_carries_markup_from_the_text(text: str) -> None:
    html = to_html(text, "https://s/tags/").html
    assert "<script" not in html and "onerror" not in html.replace("&", "")


def test_inbox_retries_follow_mastodons_schedule() -> None:
    error = TransientError("HTTP 503", status=503)
    first = inbox_decision(error, attempts=1, now=NOW, spacing=1, jitter=0)
    assert first.retry_at == NOW + timedelta(seconds=15)
    total, attempts = 0.0, 1
    while (d := inbox_decision(error, attempts=attempts, now=NOW, spacing=1, jitter=0.5)).retry_at:
        total += (d.retry_at - NOW).total_seconds()
        attempts += 1
    assert attempts == INBOX_RETRIES + 1  # the first try and 16 retries
    assert 1.9 * 86400 < total < 3 * 86400  # about two days
    assert inbox_decision(
        PermanentError("HTTP 404", status=404), attempts=1, now=NOW, spacing=1, jitter=0
    ).give_up
    limited = RateLimitedError("HTTP 429", retry_after=600)
    assert inbox_decision(
        limited, attempts=1, now=NOW, spacing=1, jitter=0
    ).retry_at == NOW + timedelta(seconds=600)


def test_a_host_breaker_opens_and_seven_failing_days_make_it_unavailable() -> None:
    rec = None
    for _ in range(BREAKER_FAILURES - 1):
        rec = after_failure(rec, "h.example", NOW)
    assert rec is not None and rec.open_until is None
    rec = after_failure(rec, "h.example", NOW)
    assert rec.open_until is not None and rec.open_until > NOW and not rec.unavailable
    for day in range(1, UNAVAILABLE_DAYS):
        assert not rec.unavailable
        rec = after_failure(rec, "h.example", NOW + timedelta(days=day))
        rec = after_failure(rec, "h.example", NOW + timedelta(days=day, hours=1))  # same day
    assert rec.unavailable and len(rec.failure_days) == UNAVAILABLE_DAYS

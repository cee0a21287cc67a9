"""Email against real SMTP servers (aiosmtpd): what the server received is what we assert."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from channels.base import ChannelContext, PermanentError, Post, Receipt, TransientError
from channels.smtp import EmailChannel, EmailOptions
from tests.peers.smtp_server import PASSWORD, USER, Sink, smtp_server, throwaway_ca
from tests.secrets_registry import secret

secret(PASSWORD)
SENDER = "Acme Status <status@acme.example>"


def post(n: int = 1, **kw: Any) -> Post:
    return Post(
        message_id=n, key=f"m{n}-mail-1", text="Checkout is slow.\nWe are on it: https://acme.example/i/1",
        created_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC), **kw,
    )  # fmt: skip


def channel(tmp_path: Path, port: int, **kw: Any) -> EmailChannel:
    opts: dict[str, Any] = {
        "host": "127.0.0.1", "port": port, "security": "none", "from_address": SENDER,
        "recipients": ["a@example.org", "b@example.org"], "timeout": 5, **kw,
    }  # fmt: skip
    return EmailChannel(ChannelContext(name="mail", state_dir=tmp_path), EmailOptions(**opts))


async def send_until_done(
    ch: EmailChannel, p: Post, tries: int = 5
) -> tuple[Receipt, list[Exception]]:
    errors: list[Exception] = []
    for _ in range(tries):
        try:
            return await ch.send(p), errors
        except TransientError as exc:
            errors.append(exc)
            p = dataclasses.replace(p, progress=exc.progress, uncertain=exc.maybe_delivered)
    raise AssertionError(f"never delivered: {errors}")


async def test_multipart_message_with_subject_and_deterministic_message_id(tmp_path: Path) -> None:
    sink = Sink()
    rcpt_file = tmp_path / "list.txt"
    rcpt_file.write_text("# customers\nc@example.org\n\nd@example.org  # VIP\n")
    with smtp_server(sink) as port:
        ch = channel(tmp_path, port, recipients_file=rcpt_file)
        await ch.open()
        got = await ch.send(post(title="Checkout incident"))
        assert (await ch.check()).ok
    [m] = sink.received
    assert m.mail_from == "status@acme.example"
    assert sorted(m.rcpt_tos) == [
        "a@example.org",
        "b@example.org",
        "c@example.org",
        "d@example.org",
    ]
    msg = m.message
    assert msg["Subject"] == "Checkout incident" and msg["To"] == "undisclosed-recipients:;"
    assert msg["Message-ID"] == got.remote_id == got.extra["message_id"]
    assert msg["Message-ID"].endswith("@acme.example>")
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and "We are on it: https://acme.example/i/1" in plain.get_content()
    assert html is not None and '<a href="https://acme.example/i/1">' in html.get_content()
    assert got.note == "4 of 4 recipients accepted"
    # The same post on the same channel always gets the same Message-ID (dedupe on retry).
    with smtp_server(Sink()) as port:
        again = await channel(tmp_path, port).send(post(title="Checkout incident"))
    assert again.remote_id == got.remote_id


async def test_subject_from_first_line_and_html_is_escaped(tmp_path: Path) -> None:
    sink = Sink()
    with smtp_server(sink) as port:
        p = dataclasses.replace(post(), text="<b>Sale</b> & more\nsecond line")
        await channel(tmp_path, port).send(p)
    msg = sink.received[0].message
    assert msg["Subject"] == "<b>Sale</b> & more"
    html = msg.get_body(preferencelist=("html",))
    assert html is not None and "&lt;b&gt;Sale&lt;/b&gt; &amp; more<br>" in html.get_content()


async def test_thread_updates_carry_in_reply_to_and_references(tmp_path: Path) -> None:
    sink = Sink()
    with smtp_server(sink) as port:
        ch = channel(tmp_path, port)
        first = await ch.send(post(1))
        second = await ch.send(post(2, reply_to=first, thread_root=first))
        third = await ch.send(post(3, reply_to=second, thread_root=first))
    msgs = [r.message for r in sink.received]
    assert msgs[1]["In-Reply-To"] == first.remote_id
    assert msgs[2]["In-Reply-To"] == second.remote_id
    assert msgs[2]["References"] == f"{first.remote_id} {second.remote_id}"
    assert third.remote_id not in (first.remote_id, second.remote_id)


async def test_starttls_with_test_ca_and_auth(tmp_path: Path) -> None:
    sink = Sink()
    with throwaway_ca(tmp_path) as tls, smtp_server(sink, starttls=tls, auth=True) as port:
        ok = channel(tmp_path, port, security="starttls", ca_file=tls.ca_file,
                     username=USER, password=SecretStr(PASSWORD))  # fmt: skip
        await ok.send(post())
        assert (await ok.check()).ok
        bad = channel(tmp_path, port, security="starttls", ca_file=tls.ca_file,
                      username=USER, password=SecretStr("wrong"))  # fmt: skip
        with pytest.raises(PermanentError) as info:
            await bad.send(post(2))
        check = await bad.check()
        untrusted = channel(tmp_path, port, security="starttls")  # system CAs: refused
        assert not (await untrusted.check()).ok
    assert len(sink.received) == 1
    assert info.value.credentials and "535" in info.value.reason
    assert not check.ok and check.credentials


async def test_implicit_tls(tmp_path: Path) -> None:
    sink = Sink()
    with throwaway_ca(tmp_path) as tls, smtp_server(sink, implicit_tls=tls) as port:
        await channel(tmp_path, port, security="tls", ca_file=tls.ca_file).send(post())
    assert len(sink.received) == 1


async def test_450_at_data_is_retried_once_delivered_once(tmp_path: Path) -> None:
    sink = Sink(defer_data=1)
    with smtp_server(sink) as port:
        got, errors = await send_until_done(channel(tmp_path, port), post())
    assert len(errors) == 1 and errors[0].status == 451  # type: ignore[attr-defined]
    assert len(sink.received) == 1 and got.note == "2 of 2 recipients accepted"


async def test_550_for_one_recipient_is_a_partial_result(tmp_path: Path) -> None:
    sink = Sink(refuse={"b@example.org": "550 5.1.1 no such user"})
    with smtp_server(sink) as port:
        got = await channel(tmp_path, port).send(post())
    assert sink.rcpts() == ["a@example.org"]
    assert got.extra["refused"] == {"b@example.org": "550 5.1.1 no such user"}
    assert got.note is not None and got.note.startswith("1 of 2 recipients accepted")


async def test_all_refused_is_permanent(tmp_path: Path) -> None:
    sink = Sink(refuse={"a@example.org": "550 nope", "b@example.org": "553 bad address"})
    with smtp_server(sink) as port, pytest.raises(PermanentError, match="every recipient"):
        await channel(tmp_path, port).send(post())
    assert sink.received == []


async def test_450_for_one_recipient_retries_only_that_one(tmp_path: Path) -> None:
    sink = Sink(refuse={"b@example.org": "450 4.2.1 mailbox busy"})
    with smtp_server(sink) as port:
        ch = channel(tmp_path, port)
        with pytest.raises(TransientError) as info:
            await ch.send(post())
        assert sink.rcpts() == ["a@example.org"]
        sink.refuse.clear()
        await ch.send(dataclasses.replace(post(), progress=info.value.progress))
    assert sink.rcpts() == ["a@example.org", "b@example.org"]  # nobody twice


async def test_dropped_connection_at_data_then_retry_delivers_once(tmp_path: Path) -> None:
    sink = Sink(drop_data=1)
    with smtp_server(sink) as port:
        got, errors = await send_until_done(channel(tmp_path, port), post())
    assert len(errors) == 1 and errors[0].maybe_delivered  # type: ignore[attr-defined]
    assert len(sink.received) == 1 and sorted(sink.rcpts()) == ["a@example.org", "b@example.org"]
    assert got.remote_id == sink.received[0].message["Message-ID"]


async def test_large_list_streams_through_bounded_connections_with_progress(tmp_path: Path) -> None:
    sink = Sink()
    rcpt_file = tmp_path / "list.txt"
    rcpt_file.write_text("".join(f"user{i}@example.org\n" for i in range(1000)))
    seen: list[dict[str, Any]] = []

    async def progress(p: Any) -> None:
        seen.append(dict(p))

    with smtp_server(sink) as port:
        ch = channel(tmp_path, port, recipients=[], recipients_file=rcpt_file,
                     batch_size=100, max_connections=3)  # fmt: skip
        got = await ch.send(dataclasses.replace(post(), on_progress=progress))
    assert len(sink.received) == 10  # one transaction per batch of 100
    assert sorted(sink.rcpts()) == sorted(f"user{i}@example.org" for i in range(1000))
    assert sink.peak_connections <= 3 and sink.connections <= 3
    assert [s["done"] for s in seen] == [100 * i for i in range(1, 11)]
    assert seen[-1] == {"done": 1000, "total": 1000, "refused": 0}
    assert got.note == "1000 of 1000 recipients accepted"


def test_options_need_recipients() -> None:
    with pytest.raises(ValueError, match="recipients"):
        EmailOptions(host="h", from_address="a@b.c")

"""The mails the subscribers feature sends itself, outside any route: the confirmation of a
subscription and the notice to a failing webhook's contact. Sent through the email channel
the config names (``[subscribers] email_channel``), or the first one fed by subscribers.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from channels.email_message import domain_of
from channels.recipients import Recipient
from channels.smtp import EmailChannel
from failover.config import Config
from failover.live_channels import ChannelSet


def mail_channel(config: Config, channels: ChannelSet) -> EmailChannel | None:
    """The email adapter that sends confirmation and notice mails, if one is usable."""
    name = config.subscribers.email_channel
    if name is None:
        name = next(
            (n for n, ch in config.channels.items()
             if ch.type == "email" and getattr(ch.options, "recipients_from", None)),
            None,
        )  # fmt: skip
    live = channels.get(name) if name else None
    adapter = live.adapter if live else None
    return adapter if isinstance(adapter, EmailChannel) else None


def _message(
    sender: str, to: str, subject: str, text: str, now: datetime,
    headers: tuple[tuple[str, str], ...] = (),
) -> bytes:  # fmt: skip
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<{secrets.token_hex(12)}@{domain_of(sender)}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    # As the channel does: raw header lines, never folded into RFC 2047 words (a long
    # List-Unsubscribe URL would be, and mail clients would not find it).
    return Recipient(to, headers).header_bytes() + msg.as_bytes()


def confirmation(
    sender: str, to: str, site: str, link: str, expires: datetime, now: datetime,
    headers: tuple[tuple[str, str], ...],
) -> bytes:  # fmt: skip
    text = (
        f"Someone, hopefully you, asked to receive status updates from {site} at this "
        f"address.\n\nTo confirm, open this link and press the button:\n\n{link}\n\n"
        f"The link works once and expires at {expires:%Y-%m-%d %H:%M} UTC. If you did not "
        "ask for this, ignore this mail: you will not hear from us again."
    )
    return _message(sender, to, f"Confirm your subscription to {site} status updates", text, now, headers)  # fmt: skip


def hook_notice(sender: str, to: str, url: str, failures: int, error: str, now: datetime) -> bytes:
    text = (
        f"The webhook {url}, subscribed to our status updates, failed {failures} times in a "
        f"row. The last answer was: {error}\n\nWe keep trying with the next update; this is the "
        "only notice until it works again."
    )
    return _message(sender, to, "Your status webhook keeps failing", text, now)

"""The email a post becomes: multipart/alternative (plain text and HTML), images inline with
their alt text, a deterministic Message-ID and the threading headers of incident updates.

Built once per post and sent as the same bytes to every batch of recipients.
"""

from __future__ import annotations

import hashlib
import html
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from channels.base import Post, Receipt
from channels.text import URL_RE

SUBJECT_MAX = 120


def domain_of(address: str) -> str:
    _, addr = parseaddr(address)
    return addr.rpartition("@")[2] or "localhost"


def message_id(post: Post, sender: str) -> str:
    """The same post on the same channel always has the same Message-ID (dedupe on retry)."""
    digest = hashlib.sha256(post.key.encode()).hexdigest()[:24]
    return f"<{post.key.replace('@', '.')}.{digest}@{domain_of(sender)}>"


def subject_of(post: Post) -> str:
    if post.title:
        return post.title[:SUBJECT_MAX]
    first = post.text.strip().split("\n", 1)[0]
    return first if len(first) <= SUBJECT_MAX else first[: SUBJECT_MAX - 1].rstrip() + "…"


def to_html(text: str) -> str:
    """Escaped text with clickable links and line breaks: nothing a post says becomes markup."""
    out, pos = [], 0
    for m in URL_RE.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        url = html.escape(m.group(0), quote=True)
        out.append(f'<a href="{url}">{url}</a>')
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out).replace("\n", "<br>\n")


def build(post: Post, sender: str, reply_to: str | None = None) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = subject_of(post)
    msg["From"] = sender
    msg["To"] = "undisclosed-recipients:;"  # recipients go in the envelope only (Bcc-like)
    msg["Date"] = format_datetime(post.created_at)
    msg["Message-ID"] = message_id(post, sender)
    if reply_to:
        msg["Reply-To"] = reply_to
    parent = _message_id_of(post.reply_to)
    root = _message_id_of(post.thread_root)
    if parent:
        msg["In-Reply-To"] = parent
        msg["References"] = " ".join(dict.fromkeys(x for x in (root, parent) if x))
    plain = post.text + (f"\n\n{post.link}" if post.link else "")
    if post.full_text_url:
        plain += f"\n\nRead it all: {post.full_text_url}"
    msg.set_content(plain)
    body = f"<p>{to_html(post.text)}</p>"
    if post.link:
        body += (
            f'<p><a href="{html.escape(post.link, quote=True)}">{html.escape(post.link)}</a></p>'
        )
    cids = []
    for i, media in enumerate(post.media):
        cid = f"img{i}.{hashlib.sha256(media.data).hexdigest()[:16]}@{domain_of(sender)}"
        cids.append(cid)
        body += f'<p><img src="cid:{cid}" alt="{html.escape(media.alt, quote=True)}"></p>'
    title = html.escape(subject_of(post))
    msg.add_alternative(
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body>{body}</body></html>",
        subtype="html",
    )
    if post.media:
        html_part = msg.get_body(preferencelist=("html",))
        assert isinstance(html_part, EmailMessage)
        for media, cid in zip(post.media, cids, strict=True):
            maintype, _, subtype = media.content_type.partition("/")
            html_part.add_related(
                media.data, maintype=maintype, subtype=subtype, cid=f"<{cid}>",
                filename=media.filename,
            )  # fmt: skip
    return msg


def _message_id_of(receipt: Receipt | None) -> str | None:
    value = receipt.extra.get("message_id") if receipt is not None else None
    return str(value) if value else None

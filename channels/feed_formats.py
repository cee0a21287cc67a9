"""Rendering the owned feed: Atom 1.0, JSON Feed 1.1 and a static HTML page.

Kept apart from the adapter so the daemon's live status page can reuse the same item model.
Atom is built with ElementTree (escaping handled by the library); HTML with Jinja2 and
autoescape, so nothing a message says can inject markup into the page.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from jinja2 import Environment, PackageLoader, select_autoescape

ATOM_NS = "http://www.w3.org/2005/Atom"


@dataclass
class FeedImage:
    url: str
    alt: str
    content_type: str


@dataclass
class FeedItem:
    """One announcement on the page; ``id`` is the message id, stable across edits."""

    id: int
    key: str
    text: str
    published: str  # ISO 8601, UTC
    updated: str
    title: str | None = None
    link: str | None = None
    url: str | None = None  # this item on the public page
    in_reply_to: int | None = None  # the thread's first item
    images: list[FeedImage] = field(default_factory=list)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FeedItem:
        images = [FeedImage(**i) for i in raw.pop("images", [])]
        return cls(**raw, images=images)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def heading(self) -> str:
        return self.title or self.text.split("\n", 1)[0][:80]


@dataclass(frozen=True)
class FeedMeta:
    title: str
    description: str
    base_url: str  # where index.html is served, ending in "/"
    language: str | None = None
    profiles: tuple[tuple[str, str], ...] = ()  # (label, URL) of our other profiles


def atom(meta: FeedMeta, items: list[FeedItem], now: datetime) -> bytes:
    ET.register_namespace("", ATOM_NS)
    root = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(root, "title", meta.title)
    _sub(root, "subtitle", meta.description)
    _sub(root, "id", meta.base_url)
    updated = items[0].updated if items else now.astimezone(UTC).isoformat()
    _sub(root, "updated", updated)
    _link(root, "self", meta.base_url + "feed.atom")
    _link(root, "alternate", meta.base_url)
    author = ET.SubElement(root, f"{{{ATOM_NS}}}author")
    _sub(author, "name", meta.title)
    for item in items:
        entry = ET.SubElement(root, f"{{{ATOM_NS}}}entry")
        _sub(entry, "id", f"{meta.base_url}#item-{item.id}")
        _sub(entry, "title", item.heading)
        _sub(entry, "published", item.published)
        _sub(entry, "updated", item.updated)
        _link(entry, "alternate", item.url or meta.base_url)
        if item.link:
            _link(entry, "related", item.link)
        content = _sub(entry, "content", item.text)
        content.set("type", "text")
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def json_feed(meta: FeedMeta, items: list[FeedItem]) -> bytes:
    doc: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": meta.title,
        "description": meta.description,
        "home_page_url": meta.base_url,
        "feed_url": meta.base_url + "feed.json",
        "items": [
            {
                "id": str(item.id),
                "url": item.url or meta.base_url,
                "title": item.heading,
                "content_text": item.text,
                "date_published": item.published,
                "date_modified": item.updated,
                **({"external_url": item.link} if item.link else {}),
                **(
                    {
                        "attachments": [
                            {"url": i.url, "mime_type": i.content_type, "title": i.alt}
                            for i in item.images
                        ]
                    }
                    if item.images
                    else {}
                ),
            }
            for item in items
        ],
    }
    if meta.language:
        doc["language"] = meta.language
    return json.dumps(doc, ensure_ascii=False, indent=2).encode()


_env = Environment(
    loader=PackageLoader("channels", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def html_page(meta: FeedMeta, items: list[FeedItem], now: datetime) -> bytes:
    template = _env.get_template("status.html.j2")
    return template.render(meta=meta, items=items, generated=now.astimezone(UTC)).encode()


def _sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}")
    el.text = xml_safe(text)
    return el


def _link(parent: ET.Element, rel: str, href: str) -> None:
    ET.SubElement(parent, f"{{{ATOM_NS}}}link", rel=rel, href=xml_safe(href))


# Characters XML 1.0 does not allow at all, even escaped (most C0 controls, lone surrogates,
# U+FFFE/U+FFFF): one of them would make the whole feed unreadable for every subscriber.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids."""
    return _NOT_XML.sub("", text)

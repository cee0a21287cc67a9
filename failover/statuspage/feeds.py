"""Atom 1.0 and JSON Feed 1.1 of the public page: one item per incident update, titled
``[State] Incident title`` and linking to the incident's permalink, plus the announcements
posted to the feed channel. Times come from the data, so every daemon writes the same bytes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from channels.feed_formats import ATOM_NS, xml_safe
from failover.statuspage.data import StatusData
from failover.statuspage.html import STATE_LABELS

MAX_ITEMS = 50


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    text: str
    url: str
    at: datetime
    link: str | None = None


def entries(data: StatusData) -> list[Entry]:
    """Newest first: every update of the listed incidents and maintenances, and the posts."""
    base = data.meta.url
    found = []
    for i in (*data.incidents, *data.maintenances):
        permalink = f"{base}incidents/{i.id}"
        for u in i.updates:
            state = STATE_LABELS.get(u.state, u.state)
            found.append(Entry(f"{permalink}#update-{u.id}", f"[{state}] {i.title}", u.body,
                               permalink, u.created_at))  # fmt: skip
    for a in data.announcements:
        url = f"{base}#item-{a.id}"
        found.append(Entry(url, a.heading, a.text, url, a.published, a.link))
    found.sort(key=lambda e: (e.at, e.id), reverse=True)
    return found[:MAX_ITEMS]


def atom(data: StatusData) -> bytes:
    items = entries(data)
    ET.register_namespace("", ATOM_NS)
    root = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(root, "title", data.meta.title)
    _sub(root, "subtitle", data.meta.description)
    _sub(root, "id", data.meta.url)
    _sub(root, "updated", _iso(items[0].at if items else data.updated_at or data.as_of))
    _link(root, "self", data.meta.url + "feed.atom")
    _link(root, "alternate", data.meta.url)
    _sub(ET.SubElement(root, f"{{{ATOM_NS}}}author"), "name", data.meta.title)
    for item in items:
        entry = ET.SubElement(root, f"{{{ATOM_NS}}}entry")
        _sub(entry, "id", item.id)
        _sub(entry, "title", item.title)
        _sub(entry, "published", _iso(item.at))
        _sub(entry, "updated", _iso(item.at))
        _link(entry, "alternate", item.url)
        if item.link:
            _link(entry, "related", item.link)
        _sub(entry, "content", item.text).set("type", "text")
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def json_feed(data: StatusData) -> bytes:
    doc: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": data.meta.title,
        "description": data.meta.description,
        "home_page_url": data.meta.url,
        "feed_url": data.meta.url + "feed.json",
        "items": [_json_item(e) for e in entries(data)],
    }
    if data.meta.language:
        doc["language"] = data.meta.language
    return json.dumps(doc, ensure_ascii=False, indent=2).encode()


def _json_item(e: Entry) -> dict[str, Any]:
    item = {"id": e.id, "url": e.url, "title": e.title, "content_text": e.text,
            "date_published": _iso(e.at), "date_modified": _iso(e.at)}  # fmt: skip
    if e.link:
        item["external_url"] = e.link
    return item


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}")
    el.text = xml_safe(text)
    return el


def _link(parent: ET.Element, rel: str, href: str) -> None:
    ET.SubElement(parent, f"{{{ATOM_NS}}}link", rel=rel, href=xml_safe(href))

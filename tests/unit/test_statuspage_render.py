"""The page's HTML and feeds from sample data: everything the issue asks to be on the page is
there, readable without colour (text labels), and nothing depends on the render time."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree as ET

from failover.statuspage import feeds, html
from tests.unit.status_samples import sample


def test_the_index_shows_status_incidents_maintenance_components_and_news() -> None:
    page = html.index_page(sample()).decode()
    assert "Partial System Outage" in page
    assert re.search(r'<section aria-labelledby="active-h">.*Checkout errors', page, re.S)
    assert "Slow logins" not in page  # resolved: in the history, not the front page
    assert "Maintenance in progress" in page and "CDN swap" in page
    assert "Upcoming maintenance" in page and "Database upgrade" in page
    assert '<a href="./incidents/2">Checkout errors</a>' in page
    assert ">Partial outage<" in page and ">Under maintenance<" in page  # words, not colour
    assert page.count('<span class="b-') == 3 * 90  # 90 day bars per component
    assert "<h3>Frontends</h3>" in page
    assert "Winter sale starts now!" in page
    assert 'Last change <time datetime="2026-11-20T12:20:00Z">' in page


def test_the_page_is_the_same_for_the_same_data() -> None:
    assert html.index_page(sample()) == html.index_page(sample())


def test_the_incident_page_has_the_whole_timeline() -> None:
    data = sample()
    page = html.incident_page(data, data.incidents[0]).decode()
    assert "We found the cause." in page and "We are looking into it." in page
    assert "API: <span" in page  # affected components by name
    assert 'href="../feed.atom"' in page


def test_feeds_have_one_item_per_update_titled_with_its_state() -> None:
    data = sample()
    items = json.loads(feeds.json_feed(data))["items"]
    titles = [i["title"] for i in items]
    assert "[Identified] Checkout errors" in titles
    assert "[Investigating] Checkout errors" in titles
    assert "[Resolved] Slow logins" in titles
    assert "Winter sale starts now!" in titles
    updates = sum(len(i.updates) for i in (*data.incidents, *data.maintenances))
    assert len(items) == updates + len(data.announcements)
    dates = [i["date_published"] for i in items]
    assert dates == sorted(dates, reverse=True)
    atom = ET.fromstring(feeds.atom(data))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert [e.findtext("a:title", namespaces=ns) for e in atom.findall("a:entry", ns)] == titles

"""A post's plain text as the HTML fediverse servers expect in a Note's ``content``.

Links become ``<a>``, ``#hashtags`` become Mastodon-style hashtag links with a ``Hashtag``
tag each, paragraphs and line breaks are kept. The result goes through nh3 (the Ammonia
sanitiser) with the small allow-list Mastodon itself keeps, so nothing a user typed can
become markup. One regex pass over the text: linear in its length.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import nh3
import regex

_TOKEN = regex.compile(
    r"(?P<url>https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'])|(?<![\w/#])#(?P<tag>\p{L}[\p{L}\p{N}_]*)"
)
_TAGS = {"p", "br", "a", "span"}
_ATTRIBUTES = {"a": {"href", "class", "rel"}, "span": {"class"}}


@dataclass(frozen=True)
class Rendered:
    html: str
    hashtags: tuple[str, ...]  # as written, without '#', first use first, no repeats


def to_html(text: str, tag_base: str) -> Rendered:
    """Sanitised HTML for ``text``; hashtags link to ``{tag_base}{tag}``."""
    tags: dict[str, str] = {}
    paragraphs = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if block.strip():
            lines = [_inline(line, tag_base, tags) for line in block.strip("\n").split("\n")]
            paragraphs.append("<p>" + "<br>".join(lines) + "</p>")
    raw = "".join(paragraphs)
    clean = nh3.clean(
        raw,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https"},
        link_rel=None,
    )
    return Rendered(clean, tuple(tags.values()))


def _inline(line: str, tag_base: str, tags: dict[str, str]) -> str:
    out = []
    pos = 0
    for m in _TOKEN.finditer(line):
        out.append(html.escape(line[pos : m.start()], quote=False))
        if m.group("url"):
            url = m.group("url")
            out.append(
                f'<a href="{html.escape(url)}" rel="nofollow noopener noreferrer">'
                f"{html.escape(url, quote=False)}</a>"
            )
        else:
            tag = m.group("tag")
            tags.setdefault(tag.lower(), tag)
            href = html.escape(tag_base + tag.lower())
            out.append(
                f'<a href="{href}" class="mention hashtag" rel="tag">#<span>'
                f"{html.escape(tag, quote=False)}</span></a>"
            )
        pos = m.end()
    out.append(html.escape(line[pos:], quote=False))
    return "".join(out)

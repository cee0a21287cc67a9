"""Response headers of the public page (/status/): the right content types for the feeds,
and for a page a Content-Security-Policy that allows exactly its own inline script and style
(by hash), nothing from elsewhere, forms posting only to this site (the subscribe form),
plus nosniff and a Referrer-Policy."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from pathlib import Path

CONTENT_TYPES = {
    ".atom": "application/atom+xml",
    ".json": "application/json",
    ".html": "text/html",
}
FEED_JSON = "application/feed+json"
_INLINE = {
    "script-src": re.compile(rb"<script(?:\s[^>]*)?>(.*?)</script>", re.DOTALL | re.IGNORECASE),
    "style-src": re.compile(rb"<style(?:\s[^>]*)?>(.*?)</style>", re.DOTALL | re.IGNORECASE),
}


def headers_for(path: Path) -> dict[str, str]:
    """The headers a public file is served with."""
    headers = {
        "Cache-Control": "public, max-age=30",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    kind = FEED_JSON if path.name == "feed.json" else CONTENT_TYPES.get(path.suffix)
    if kind is not None:
        headers["Content-Type"] = f"{kind}; charset=utf-8"
    if path.suffix == ".html":
        stat = path.stat()
        headers["Content-Security-Policy"] = _file_policy(path, stat.st_mtime_ns, stat.st_size)
    return headers


def page_headers(body: bytes) -> dict[str, str]:
    """The headers of an HTML page rendered in memory."""
    return {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Content-Security-Policy": policy(body),
    }


@lru_cache(maxsize=16)
def _file_policy(path: Path, mtime_ns: int, size: int) -> str:
    """A file's policy; recomputed only when the file changes (mtime and size)."""
    return policy(path.read_bytes())


@lru_cache(maxsize=64)
def policy(body: bytes) -> str:
    """The policy of a page whose whole text is ``body``."""
    sources = {}
    for directive, pattern in _INLINE.items():
        hashes = {_sha256(m) for m in pattern.findall(body)}
        sources[directive] = " ".join(["'self'", *sorted(hashes)])
    return (
        "default-src 'none'; img-src 'self' https: data:; connect-src 'self'; "
        f"script-src {sources['script-src']}; style-src {sources['style-src']}; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def _sha256(content: bytes) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(content).digest()).decode() + "'"

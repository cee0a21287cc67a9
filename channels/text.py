"""Text measuring and fitting: how each platform counts, and splitting or truncating to fit.

Plain functions shared by the adapters (which declare a ``TextRule`` with one of the
measures) and by the core (which fits a message to a channel before sending).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import regex

URL_RE = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]}]", re.IGNORECASE)
X_URL_WEIGHT = 23

# twitter-text configuration v3: these ranges weigh 1, every other code point weighs 2.
_X_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))


def _x_weight(ch: str) -> int:
    cp = ord(ch)
    for lo, hi in _X_LIGHT_RANGES:
        if lo <= cp <= hi:
            return 1
    return 2


_EMOJI = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}")


def _x_plain(text: str) -> int:
    # twitter-text v3 parses emoji: a whole emoji sequence (ZWJ families, flags, skin tones)
    # weighs 2, like one CJK character; everything else is weighed code point by code point.
    total = 0
    for cluster in regex.findall(r"\X", text):
        if _EMOJI.search(cluster):
            total += 2
        else:
            total += sum(_x_weight(c) for c in cluster)
    return total


def x_weighted_length(text: str) -> int:
    """X's weighted length: NFC, URLs count 23, CJK and emoji (whole sequences) count 2."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    pos = 0
    for m in URL_RE.finditer(text):
        total += _x_plain(text[pos : m.start()]) + X_URL_WEIGHT
        pos = m.end()
    return total + _x_plain(text[pos:])


def grapheme_length(text: str) -> int:
    """User-perceived characters (extended grapheme clusters), as Bluesky counts."""
    return len(regex.findall(r"\X", text))


def url_reserved_length(url_cost: int) -> Callable[[str], int]:
    """Mastodon-style counting: code points, with every URL counting ``url_cost``."""

    def measure(text: str) -> int:
        total = 0
        pos = 0
        for m in URL_RE.finditer(text):
            total += len(text[pos : m.start()]) + url_cost
            pos = m.end()
        return total + len(text[pos:])

    return measure


def _suffix(i: int, n: int) -> str:
    return f" ({i}/{n})"


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Split ``text`` into numbered parts that each measure at most ``limit``.

    Breaks between words (never inside a word or URL that fits a part on its own),
    preferring the end of a sentence. Text that already fits is returned unchanged.
    """
    text = text.strip()
    if measure(text) <= limit:
        return [text]
    words = text.split()
    n = 2
    while True:
        parts = _pack(words, limit - measure(_suffix(n, n)), measure)
        if len(parts) <= n:
            n = len(parts)
            return [p + _suffix(i, n) for i, p in enumerate(parts, 1)]
        n = len(parts)


def _pack(words: list[str], budget: int, measure: Callable[[str], int]) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    for word in words:
        candidate = " ".join([*current, word])
        if current and measure(candidate) > budget:
            cut = _sentence_cut(current)
            parts.append(" ".join(current[:cut]))
            current = current[cut:]
        current.append(word)
        while measure(" ".join(current)) > budget and len(current) == 1:
            # One word longer than a part: unavoidable hard cut.
            head, tail = _hard_cut(current[0], budget, measure)
            parts.append(head)
            current = [tail] if tail else []
    if current:
        parts.append(" ".join(current))
    return parts


def _sentence_cut(words: list[str]) -> int:
    """Index after the last sentence end in the latter half of ``words``, else all."""
    for i in range(len(words) - 1, len(words) // 2 - 1, -1):
        if words[i].endswith((".", "!", "?", "…")) and not URL_RE.fullmatch(words[i]):
            return i + 1
    return len(words)


def _hard_cut(word: str, budget: int, measure: Callable[[str], int]) -> tuple[str, str]:
    clusters = regex.findall(r"\X", word)
    for k in range(len(clusters), 0, -1):
        head = "".join(clusters[:k])
        if measure(head) <= budget:
            return head, "".join(clusters[k:])
    return "".join(clusters[:1]), "".join(clusters[1:])


def truncate_text(
    text: str, limit: int, measure: Callable[[str], int] = len, link: str | None = None
) -> str:
    """Cut ``text`` at a word boundary to fit ``limit``, ending with "…" and ``link``."""
    text = text.strip()
    if measure(text) <= limit:
        return text
    tail = "…" + (f" {link}" if link else "")
    words = text.split()
    while words and measure(" ".join(words) + tail) > limit:
        words.pop()
    if not words:
        head, _ = _hard_cut(text, limit - measure(tail), measure)
        return head + tail
    return " ".join(words) + tail

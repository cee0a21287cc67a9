"""Text measuring and fitting: how each platform counts, and splitting or truncating to fit.

Plain functions shared by the adapters (which declare a ``TextRule`` with one of the
measures) and by the core (which fits a message to a channel before sending).

Every measure is a sum of per-code-point weights (a cluster's or a URL's whole cost sits on
its first code point), so a text is weighed once and any slice of it priced by subtracting
two prefix sums. Fitting is therefore linear in the text's length: a user's 100,000
characters without a space cost milliseconds, not minutes, on the event loop.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import regex

URL_RE = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]}]", re.IGNORECASE)
X_URL_WEIGHT = 23
SENTENCE_ENDS = (".", "!", "?", "…")
_WORD = re.compile(r"\S+")

# twitter-text configuration v3: these ranges weigh 1, every other code point weighs 2.
_X_HEAVY = re.compile(r"[^\u0000-\u10FF\u2000-\u200D\u2010-\u201F\u2032-\u2037]+")
_EMOJI = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}")
_LIGHT_EMOJI = re.compile("[\u00a9\u00ae]")  # emoji in the light ranges: still weigh 2
# A run of code points that are each a cluster of their own (most prose, CJK, lone emoji) is
# taken in one step; anything else goes one extended grapheme cluster (group 1) at a time.
_CLUSTERS = regex.compile(
    r"\p{Grapheme_Cluster_Break=Other}+"
    r"(?![\p{Grapheme_Cluster_Break=Extend}\p{Grapheme_Cluster_Break=ZWJ}"
    r"\p{Grapheme_Cluster_Break=SpacingMark}])"
    r"|(\X)"
)

Weights = Callable[[str], list[int]]


@dataclass(frozen=True)
class Measure:
    """A platform's way of counting text: weights per code point that add up to its length.

    ``form`` is the Unicode normal form the platform applies before counting; fitted parts
    are cut from the normalised text, so what is measured is what is posted."""

    weights: Weights
    form: Literal["NFC", "NFD", "NFKC", "NFKD"] | None = None

    def __call__(self, text: str) -> int:
        return sum(self.weights(self.prepare(text)))

    def prepare(self, text: str) -> str:
        return unicodedata.normalize(self.form, text) if self.form else text


def _reserve_urls(text: str, weights: list[int], cost: int) -> list[int]:
    for m in URL_RE.finditer(text):
        start, end = m.span()
        weights[start : end] = [cost] + [0] * (end - start - 1)  # fmt: skip
    return weights


@functools.lru_cache(maxsize=2)  # fitting asks twice of one text: its weights, its clusters
def _multi_clusters(text: str) -> tuple[tuple[int, int], ...]:
    """Spans of the clusters that are more than one code point."""
    spans = []
    for m in _CLUSTERS.finditer(text):
        start, end = m.span(1)
        if end - start > 1:
            spans.append((start, end))
    return tuple(spans)


def _x_weights(text: str) -> list[int]:
    # twitter-text v3 parses emoji: a whole emoji sequence (ZWJ families, flags, skin tones)
    # weighs 2, like one CJK character; everything else is weighed code point by code point.
    weights = [1] * len(text)
    for m in _X_HEAVY.finditer(text):
        start, end = m.span()
        weights[start:end] = [2] * (end - start)
    for m in _LIGHT_EMOJI.finditer(text):
        weights[m.start()] = 2
    for start, end in _multi_clusters(text):
        if _EMOJI.search(text, start, end):
            weights[start:end] = [2] + [0] * (end - start - 1)
    return _reserve_urls(text, weights, X_URL_WEIGHT)


def _grapheme_weights(text: str) -> list[int]:
    weights = [1] * len(text)
    for start, end in _multi_clusters(text):
        weights[start + 1 : end] = [0] * (end - start - 1)
    return weights


x_weighted_length = Measure(_x_weights, "NFC")
"""X's weighted length: NFC, URLs count 23, CJK and emoji (whole sequences) count 2."""

grapheme_length = Measure(_grapheme_weights)
"""User-perceived characters (extended grapheme clusters), as Bluesky counts."""


def url_reserved_length(url_cost: int) -> Measure:
    """Mastodon-style counting: code points, with every URL counting ``url_cost``."""
    return Measure(lambda text: _reserve_urls(text, [1] * len(text), url_cost))


def as_measure(measure: Callable[[str], int]) -> Measure:
    """A ``Measure`` for any counting function (a third-party adapter's): weighed cluster by
    cluster, still linear; fitted parts are checked against the function itself."""
    if isinstance(measure, Measure):
        return measure
    if measure is len:
        return Measure(lambda text: [1] * len(text))

    def weights(text: str) -> list[int]:
        out = [0] * len(text)
        for m in regex.finditer(r"\X", text):
            out[m.start()] = measure(m.group())
        return out

    return Measure(weights)


class _Priced:
    """One text ready for fitting: its words, the prefix sums of its weights, and where its
    clusters start. ``check`` is the platform's own measure, the final word on every part."""

    def __init__(self, text: str, measure: Measure, check: Callable[[str], int]) -> None:
        self.text = text
        self.check = check
        # Our own measures add up exactly over a part cut at whitespace that starts a cluster
        # (no URL, cluster or normal form spans whitespace): such parts need no second look.
        self.exact = check is measure or check is len
        self.cost = list(itertools.accumulate(measure.weights(text), initial=0))
        spans = [m.span() for m in _WORD.finditer(text)]
        self.starts = [s for s, _ in spans]
        self.ends = [e for _, e in spans]
        self.end_costs = [self.cost[e] for e in self.ends]
        self._cluster_starts: list[int] | None = None

    def next_start(self, end: int, k: int) -> tuple[int, int]:
        """Where the part after one ending at ``end`` (inside or after word ``k``) begins."""
        if end < self.ends[k]:
            return end, k
        if k + 1 < len(self.starts):
            return self.starts[k + 1], k + 1
        return len(self.text), k + 1

    def part_end(self, pos: int, k: int, budget: int, sentences: bool) -> int:
        """End of the longest part from ``pos`` (in word ``k``) whose estimate fits ``budget``:
        whole words, preferring a sentence end; a word longer than a part is cut between
        clusters."""
        j = bisect.bisect_right(self.end_costs, self.cost[pos] + budget, lo=k) - 1
        if j < k:
            return self._cluster_cut(pos, self.ends[k], budget)
        if sentences and j + 1 < len(self.ends):
            j = self._sentence_end(pos, k, j)
        return self.ends[j]

    def _sentence_end(self, pos: int, k: int, j: int) -> int:
        """The last word ending a sentence in the latter half of words ``k..j``, else ``j``."""
        for i in range(j, k + (j - k + 1) // 2 - 1, -1):
            start = pos if i == k else self.starts[i]
            if self.text[self.ends[i] - 1] in SENTENCE_ENDS and not URL_RE.fullmatch(
                self.text, start, self.ends[i]
            ):
                return i
        return j

    def _is_cluster_start(self, i: int) -> bool:
        if self._cluster_starts is None:
            self._cluster_starts = _grapheme_weights(self.text)
        return i >= len(self.text) or self._cluster_starts[i] == 1

    def _cluster_cut(self, pos: int, limit: int, budget: int) -> int:
        end = bisect.bisect_right(self.cost, self.cost[pos] + budget, pos + 1, limit + 1) - 1
        while end > pos and not self._is_cluster_start(end):
            end -= 1
        if end == pos:  # one cluster weighs more than a part: it goes alone, unavoidably
            end = pos + 1
            while end < limit and not self._is_cluster_start(end):
                end += 1
        return end

    def fits(self, pos: int, end: int, tail: str, limit: int) -> bool:
        return self.check(self.text[pos:end] + tail) <= limit

    def repair(self, pos: int, k: int, end: int, tail: str, limit: int) -> int:
        """The estimate was off (a measure that does not simply add up): binary-search the
        longest part that the real measure accepts, by words, else by clusters."""
        lo, hi = k, bisect.bisect_right(self.ends, end, lo=k)  # candidate word ends
        while lo < hi:
            mid = (lo + hi) // 2
            if self.fits(pos, self.ends[mid], tail, limit):
                lo = mid + 1
            else:
                hi = mid
        if lo > k:
            return self.ends[lo - 1]
        best, lo, hi = 0, pos + 1, min(end, self.ends[k])
        while lo <= hi:
            mid = (lo + hi) // 2
            cut = mid
            while cut > pos and not self._is_cluster_start(cut):
                cut -= 1
            if cut > pos and self.fits(pos, cut, tail, limit):
                best, lo = cut, mid + 1
            else:
                hi = mid - 1
        return best or self._cluster_cut(pos, self.ends[k], 0)

    def pack(self, limit: int, tail: str) -> list[tuple[int, int]]:
        """Spans of the parts, each of which fits ``limit`` with ``tail`` appended."""
        budget = limit - self.check(tail)
        spans: list[tuple[int, int]] = []
        pos, k = self.starts[0], 0
        while k < len(self.starts):
            end = self.part_end(pos, k, budget, sentences=True)
            j = bisect.bisect_left(self.ends, end, lo=k)
            clean = pos == self.starts[k] and j < len(self.ends) and self.ends[j] == end
            if not (self.exact and clean and self._is_cluster_start(pos)) and not self.fits(
                pos, end, tail, limit
            ):
                end = self.repair(pos, k, end, tail, limit)
                j = bisect.bisect_left(self.ends, end, lo=k)
            spans.append((pos, end))
            pos, k = self.next_start(end, min(j, len(self.ends) - 1))
        return spans


def _suffix(i: int, n: int) -> str:
    return f" ({i}/{n})"


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Split ``text`` into numbered parts that each measure at most ``limit``.

    Breaks between words (never inside a word or URL that fits a part on its own),
    preferring the end of a sentence; keeps the line breaks inside a part. Text that already
    fits is returned unchanged; parts are cut from the measure's normal form (NFC on X).
    """
    text = text.strip()
    if measure(text) <= limit:
        return [text]
    m = as_measure(measure)
    priced = _Priced(m.prepare(text), m, measure)
    if not priced.starts:  # nothing but a limit below zero
        return [text]
    n = max(2, -(-priced.cost[-1] // max(1, limit - measure(_suffix(9, 9)))))  # a lower bound
    while True:
        spans = priced.pack(limit, _suffix(n, n))
        if measure(_suffix(len(spans), len(spans))) <= measure(_suffix(n, n)):
            break  # the numbering is no wider than the one the parts were packed for
        n = len(spans)
    return [priced.text[a:b] + _suffix(i, len(spans)) for i, (a, b) in enumerate(spans, 1)]


def truncate_text(
    text: str, limit: int, measure: Callable[[str], int] = len, link: str | None = None
) -> str:
    """Cut ``text`` at a word boundary to fit ``limit``, ending with "…" and ``link``."""
    text = text.strip()
    if measure(text) <= limit:
        return text
    tail = "…" + (f" {link}" if link else "")
    m = as_measure(measure)
    priced = _Priced(m.prepare(text), m, measure)
    end = priced.part_end(0, 0, limit - measure(tail), sentences=False)
    if not priced.fits(0, end, tail, limit):
        end = priced.repair(0, 0, end, tail, limit)
    return priced.text[:end] + tail

"""Length rules at their edges, and the splitter's and truncation's guarantees (hypothesis)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.text import (
    URL_RE,
    grapheme_length,
    split_text,
    truncate_text,
    url_reserved_length,
    x_weighted_length,
)

FAMILY = "👩\u200d👩\u200d👧"  # one emoji sequence: 5 code points


def test_x_weighted_length_edges() -> None:
    assert x_weighted_length("a" * 280) == 280 and x_weighted_length("a" * 281) == 281
    assert x_weighted_length("界" * 140) == 280  # CJK weighs 2
    assert x_weighted_length("see https://example.org/" + "x" * 200) == 4 + 23  # any URL is 23
    assert x_weighted_length("🚨") == 2 and x_weighted_length(FAMILY) == 2  # a whole sequence
    assert x_weighted_length("🇩🇪") == 2  # a flag (two regional indicators)
    assert x_weighted_length("e\u0301") == 1  # NFC first: é
    assert x_weighted_length("“quoted”—ok") == 11  # U+2010 to U+201F weigh 1


def test_bluesky_counts_graphemes() -> None:
    assert grapheme_length(FAMILY) == 1 and grapheme_length("e\u0301") == 1
    assert grapheme_length("ab🚨") == 3


def test_mastodon_counts_urls_as_reserved_characters() -> None:
    measure = url_reserved_length(23)
    assert measure("a https://example.org/" + "p" * 100) == 2 + 23


words = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöü界🚨", min_size=1, max_size=12),
    st.sampled_from(
        ["@acme", "#outage", "https://status.acme.example/incidents/42", "done.", "ok!"]
    ),
)
texts = st.lists(words, min_size=1, max_size=120).map(" ".join)
rules = st.sampled_from(
    [(280, x_weighted_length), (300, grapheme_length), (500, url_reserved_length(23))]
)
SUFFIX = re.compile(r" \(\d+/\d+\)$")


@settings(max_examples=300, deadline=None)
@given(text=texts, rule=rules, shrink=st.integers(min_value=0, max_value=200))
def test_split_parts_fit_keep_tokens_and_order(
    text: str, rule: tuple[int, object], shrink: int
) -> None:
    limit, measure = rule
    limit = max(60, limit - shrink)
    parts = split_text(text, limit, measure)  # type: ignore[arg-type]
    assert all(measure(p) <= limit for p in parts)  # type: ignore[operator]
    bodies = [SUFFIX.sub("", p) for p in parts] if len(parts) > 1 else parts
    assert " ".join(bodies).split() == text.split()  # nothing lost, nothing reordered
    for token in text.split():  # no mention, tag or URL is cut (all are shorter than a part)
        if token.startswith(("@", "#")) or URL_RE.fullmatch(token):
            assert any(token in b.split() for b in bodies), token
    if len(parts) > 1:
        assert [SUFFIX.search(p) is not None for p in parts] == [True] * len(parts)
        assert parts[-1].endswith(f"({len(parts)}/{len(parts)})")


def test_split_prefers_sentence_ends() -> None:
    text = "First sentence is here. " + "word " * 40 + "end."
    parts = split_text(text, 120, len)
    assert parts[0].startswith("First sentence is here.")
    assert all(len(p) <= 120 for p in parts)


@settings(max_examples=200, deadline=None)
@given(text=texts, rule=rules)
def test_truncate_fits_and_keeps_the_link(text: str, rule: tuple[int, object]) -> None:
    limit, measure = rule
    link = "https://status.acme.example/#item-7"
    out = truncate_text(text, limit, measure, link)  # type: ignore[arg-type]
    assert measure(out) <= limit  # type: ignore[operator]
    if measure(text.strip()) > limit:  # type: ignore[operator]
        assert out.endswith("… " + link)
        assert text.strip().startswith(out.removesuffix("… " + link).rstrip())
    else:
        assert out == text.strip()


# -- pathological input: linear fitting must stay correct where words, clusters and URLs
# -- are long, glued together or strange.

ODD = ["a", "b", "界", " ", "  ", "\n", "\t", ".", "!", "\u0301", "\u200d", "🚨", "👩", "🇩", "🇪",
       "\ufe0f", "\u20e3", "\u0958", "क", "्", "ष", "ᄀ", "ᅡ", "©", "\r\n", "\u0600", "@acme"]  # fmt: skip
odd_runs = st.builds(
    lambda piece, n: piece * n,
    st.sampled_from(["a", "界", "🚨", "e\u0301", FAMILY, "🇩🇪", "x ", "क्ष"]),
    st.integers(min_value=1, max_value=700),
)
long_urls = st.integers(min_value=1, max_value=600).map(lambda n: f"https://e.example/{'p' * n}")
odd_texts = st.lists(
    st.one_of(st.sampled_from(ODD), odd_runs, long_urls), min_size=1, max_size=40
).map("".join)


def _reference_x_length(text: str) -> int:
    """The cluster-by-cluster count the fast one replaced: slow, obviously right."""
    text = unicodedata.normalize("NFC", text)

    def plain(segment: str) -> int:
        total = 0
        for cluster in regex.findall(r"\X", segment):
            if regex.search(r"\p{Extended_Pictographic}|\p{Regional_Indicator}", cluster):
                total += 2
            else:
                total += sum(1 if any(lo <= ord(c) <= hi for lo, hi in LIGHT) else 2
                             for c in cluster)  # fmt: skip
        return total

    total, pos = 0, 0
    for m in URL_RE.finditer(text):
        total += plain(text[pos : m.start()]) + 23
        pos = m.end()
    return total + plain(text[pos:])


LIGHT = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))


@settings(max_examples=300, deadline=None)
@given(text=odd_texts)
def test_fast_measures_count_like_the_reference(text: str) -> None:
    assert x_weighted_length(text) == _reference_x_length(text)
    assert grapheme_length(text) == len(regex.findall(r"\X", text))


def _clusters(text: str) -> list[str]:
    return [c.strip() for c in regex.findall(r"\X", text) if c.strip()]


@settings(max_examples=400, deadline=None)
@given(text=odd_texts, rule=rules, shrink=st.integers(min_value=0, max_value=220))
def test_split_of_pathological_text_fits_and_loses_nothing(
    text: str, rule: tuple[int, Callable[[str], int]], shrink: int
) -> None:
    limit, measure = rule
    limit -= shrink
    parts = split_text(text, limit, measure)
    assert all(measure(p) <= limit for p in parts)
    if len(parts) == 1:
        assert parts == [text.strip()]
        return
    assert [SUFFIX.search(p) is not None for p in parts] == [True] * len(parts)
    bodies = [SUFFIX.sub("", p) for p in parts]
    prepared = unicodedata.normalize("NFC", text) if measure is x_weighted_length else text
    # Nothing lost or reordered, and no cluster cut in two (an emoji, a letter and its accent).
    assert [c for b in bodies for c in _clusters(b)] == _clusters(prepared)
    budget = limit - measure(f" ({len(parts)}/{len(parts)})")
    for word in prepared.split():  # a word that fits a part is never cut
        if measure(word) <= budget:
            assert any(word in b.split() for b in bodies), word


@settings(max_examples=300, deadline=None)
@given(text=odd_texts, rule=rules, shrink=st.integers(min_value=0, max_value=220))
def test_truncate_of_pathological_text_fits_and_is_a_prefix(
    text: str, rule: tuple[int, Callable[[str], int]], shrink: int
) -> None:
    limit, measure = rule
    limit -= shrink
    link = "https://status.acme.example/#item-7"
    out = truncate_text(text, limit, measure, link)
    assert measure(out) <= limit
    if out != text.strip():
        prepared = unicodedata.normalize("NFC", text) if measure is x_weighted_length else text
        assert out.endswith("… " + link)
        head = out.removesuffix("… " + link)
        assert prepared.strip().startswith(head) and head


def test_split_keeps_line_breaks_inside_a_part() -> None:
    text = "Status update.\n\nPayments work. " + "More words follow here. " * 30
    parts = split_text(text, 280, x_weighted_length)
    assert parts[0].startswith("Status update.\n\nPayments work.")


def test_long_unbroken_cjk_is_cut_between_characters() -> None:
    parts = split_text("界" * 1000, 280, x_weighted_length)
    bodies = [SUFFIX.sub("", p) for p in parts]
    assert "".join(bodies) == "界" * 1000
    assert all(x_weighted_length(p) <= 280 for p in parts) and len(parts) == 8

"""Length rules at their edges, and the splitter's and truncation's guarantees (hypothesis)."""

from __future__ import annotations

import re

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

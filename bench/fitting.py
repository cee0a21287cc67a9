"""Text fitting on the event loop: how long thread-splitting and truncating take for 1k, 10k
and 100k characters of prose, unbroken text (no space at all), CJK and emoji, under each
platform's length rule (X weighted 280, Bluesky 300 graphemes, Mastodon 500 characters).

Each cell is the median of ``--repeat`` runs of the slower of split and truncate, for the
slowest of the three rules: the time one viewer's preview can hold the loop. The last line
is one JSON object; the target is under 50 ms for each 100k figure.

    .venv/bin/python bench/fitting.py [--sizes 1000,10000,100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from channels.text import (  # noqa: E402
    grapheme_length,
    split_text,
    truncate_text,
    url_reserved_length,
    x_weighted_length,
)

RULES: dict[str, tuple[int, Callable[[str], int]]] = {
    "x": (280, x_weighted_length),
    "bluesky": (300, grapheme_length),
    "mastodon": (500, url_reserved_length(23)),
}
PROSE = (
    "We are having trouble reaching X right now. Updates continue at "
    "https://status.acme.example/ and on Mastodon. Payments are not affected! "
)


def sample(kind: str, size: int) -> str:
    pattern = {
        "prose": PROSE,
        "unbroken": "abcdefghijklmnopqrstuvwxyz0123456789",
        "cjk": "我们暂时无法连接到平台。更新会继续发布在状态页上\uff0c付款不受影响。",
        "emoji": "🚨👩\u200d👩\u200d👧🇩🇪✅ ",
    }[kind]
    return (pattern * (size // len(pattern) + 1))[:size]


def time_one(text: str, repeat: int) -> float:
    """Milliseconds: median over ``repeat`` of the slowest rule's slower operation."""
    runs = []
    for _ in range(repeat):
        worst = 0.0
        for limit, measure in RULES.values():
            start = time.perf_counter()
            split_text(text, limit, measure)
            split = time.perf_counter() - start
            start = time.perf_counter()
            truncate_text(text, limit, measure, "https://status.acme.example/#i")
            worst = max(worst, split, time.perf_counter() - start)
        runs.append(worst * 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = ["prose", "unbroken", "cjk", "emoji"]
    figures: dict[str, float] = {}
    print(f"{'input':<10}" + "".join(f"{f'{n:,} chars ms':>16}" for n in sizes))
    for kind in kinds:
        cells = []
        for size in sizes:
            ms = time_one(sample(kind, size), args.repeat)
            figures[f"{kind}_{size // 1000}k_ms"] = round(ms, 2)
            cells.append(f"{ms:>16.2f}")
        print(f"{kind:<10}" + "".join(cells))
    big = max(sizes) // 1000
    print(
        json.dumps(
            {
                f"unbroken_{big}k_ms": figures[f"unbroken_{big}k_ms"],
                f"prose_{big}k_ms": figures[f"prose_{big}k_ms"],
                f"cjk_{big}k_ms": figures[f"cjk_{big}k_ms"],
                f"emoji_{big}k_ms": figures[f"emoji_{big}k_ms"],
            }
        )
    )


if __name__ == "__main__":
    main()

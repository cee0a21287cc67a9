"""Fitting a message to one channel: which text, and in how many posts.

The adapter declares how its platform counts (``Limits.text``); the route says what to do
with text that does not fit (``thread``, ``truncate`` or ``reject``). A per-channel override
is used as written, fitted by the same rule.
"""

from __future__ import annotations

from channels.base import Limits
from channels.text import split_text, truncate_text
from failover.errors import InvalidInput
from failover.model import Message, NewMessage


def compose(message: Message | NewMessage, channel: str, limits: Limits) -> str:
    """The text for ``channel``: its override, or the text with title and link as needed."""
    override = message.overrides.get(channel)
    if override is not None:
        return override.strip()
    text = message.text.strip()
    if message.title and not limits.title:
        text = f"{message.title.strip()}\n\n{text}"
    if message.link and message.link not in text:
        text = f"{text}\n{message.link}"
    return text


def fit(text: str, limits: Limits, policy: str, full_text_url: str | None) -> list[str]:
    """The posts ``text`` becomes on a channel with ``limits`` under the route's ``policy``."""
    rule = limits.text
    if rule is None or rule.measure(text) <= rule.max:
        return [text]
    if policy == "reject":
        raise TooLong(rule.name, rule.measure(text), rule.max)
    if policy == "thread" and limits.threads:
        return split_text(text, rule.max, rule.measure)
    return [truncate_text(text, rule.max, rule.measure, full_text_url)]


class TooLong(InvalidInput):
    """The text does not fit a channel whose route says ``fit = "reject"``."""

    def __init__(self, rule: str, length: int, limit: int) -> None:
        super().__init__("text", f"{length} characters by the {rule} rule; the limit is {limit}")
        self.length = length
        self.limit = limit

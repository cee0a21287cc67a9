"""failover's own exceptions. Channel errors live in ``channels.base``; these are the core's.

Each class's docstring says when it is raised.
"""

from __future__ import annotations


class FailoverError(Exception):
    """Base of every error failover raises on purpose."""


class ConfigError(FailoverError):
    """The configuration is invalid; ``problems`` lists each one as "key.path: what is wrong"."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(problems))


class StoreError(FailoverError):
    """The store cannot be opened or used (unreachable, or a schema this version does not know)."""


class NotFound(FailoverError):
    """A message, token or channel named by the caller does not exist."""


class Conflict(FailoverError):
    """The request conflicts with the current state (e.g. cancelling a delivered message)."""


class InvalidInput(FailoverError):
    """A client's input is invalid; ``field`` names where, ``detail`` says what."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail

"""What ``failover check-config`` finds: every error at once in file order, then warnings.

Errors (exit 78) are what the daemon refuses to load, plus what would fail once it runs (a web
address that is not http(s), a state_dir it cannot create). Warnings do not change the exit
code: the daemon starts and says the same thing. ``WARNINGS`` is the list of warning checks;
add a function there to add one.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from failover.config import Config, _Locator, load_config
from failover.config_warnings import incident_warnings
from failover.errors import ConfigError
from failover.secret_refs import is_reference
from failover.startup import missing_refs

# Keys whose value is a web address, wherever they appear under [channels.*], [api], [tracing].
URL_KEYS = frozenset(
    {"url", "check_url", "api_base_url", "service", "web", "base_url", "api_base",
     "upload_base", "profile_url", "webhook_url", "profile", "public_url", "endpoint"}
)  # fmt: skip
_PROBLEM = re.compile(r"^(?P<key>[^\s:]+?)(?: \(line (?P<line>\d+)\))?: (?P<message>.+)$", re.S)


@dataclass(frozen=True)
class Finding:
    """One error or warning: the key path, its line in the file, and what to do."""

    key: str | None
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.key}{where}: {self.message}" if self.key else self.message

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_problem(text: str) -> Finding:
    """A ConfigError problem ("key.path (line N): what") as a Finding."""
    m = _PROBLEM.match(text)
    if m is None:
        line = re.search(r"\bline (\d+)", text)
        return Finding(None, int(line[1]) if line else None, text)
    return Finding(m["key"], int(m["line"]) if m["line"] else None, m["message"])


@dataclass
class Report:
    config: Config | None
    errors: list[Finding]
    warnings: list[Finding]

    @property
    def valid(self) -> bool:
        return not self.errors


def check(path: str | Path) -> Report:
    """Loads the file and runs every check; never raises for a problem in the file."""
    errors: list[Finding] = []
    config: Config | None = None
    try:
        config = load_config(path)
    except ConfigError as exc:
        errors += [parse_problem(p) for p in exc.problems]
    try:
        text = Path(path).read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        raw, text = {}, ""
    if raw:
        locate = _Locator(text)
        errors += _bad_urls(raw, locate)
        errors += _state_dir(raw, Path(path), locate)
        errors.sort(key=lambda f: f.line or 1_000_000)  # file order; unplaced ones last
    warnings = [w for check_ in WARNINGS for w in check_(config)] if config else []
    return Report(config, errors, warnings)


def _bad_urls(raw: dict[str, Any], locate: _Locator) -> list[Finding]:
    found: list[Finding] = []

    def walk(value: Any, path: tuple[str, ...]) -> None:
        if isinstance(value, dict):
            if path[:1] == ("channels",) and len(path) == 2 and value.get("type") == "apprise":
                return  # Apprise URLs have a scheme per service
            for k, v in value.items():
                walk(v, (*path, str(k)))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*path, str(i)))
        elif isinstance(value, str) and path[-1] in URL_KEYS and not is_reference(value):
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                shown = f'it starts with "{parts.scheme}:"' if parts.scheme else "it has none"
                found.append(
                    Finding(
                        _key(path), _line(locate, *path),
                        f"expected a web address starting with https:// or http:// ({shown})",
                    )
                )  # fmt: skip

    for section in ("channels", "api", "tracing"):
        walk(raw.get(section, {}), (section,))
    return found


def _line(locate: _Locator, *path: str) -> int | None:
    found = re.search(r"\d+", locate.line(*path))
    return int(found[0]) if found else None


def _key(path: tuple[str, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def _state_dir(raw: dict[str, Any], path: Path, locate: _Locator) -> list[Finding]:
    """state_dir must be a directory this user can write, or one it can create. Tried for
    real (a permission bit says nothing for root or a read-only mount), then undone."""
    value = raw.get("state_dir")
    if not isinstance(value, str):
        return []
    problem = _writable_dir((path.parent / value).resolve())
    return [Finding("state_dir", _line(locate, "state_dir"), problem)] if problem else []


def _writable_dir(target: Path) -> str | None:
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{target} cannot be created: {existing} is a file, not a directory"
    try:
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=target):
            pass
    except OSError as exc:
        return f"{target} cannot be created or written by this user ({exc.strerror})"
    finally:
        made = target
        while made != existing and made.is_dir():
            with contextlib.suppress(OSError):
                made.rmdir()
            made = made.parent
    return None


def _channels_without_secrets(config: Config) -> list[Finding]:
    out = []
    for ch in config.channels.values():
        if ch.enabled and ch.missing:
            refs = missing_refs(ch)
            out.append(
                Finding(
                    f"channels.{ch.name}", None,
                    f"not connected: {len(refs)} secret{'s' if len(refs) != 1 else ''} missing "
                    f"({', '.join(refs)}); routes skip it until they are set",
                )
            )  # fmt: skip
    return out


def _incident_warnings(config: Config) -> list[Finding]:
    """Announcements and alerts that would mislead at incident time (failover.config_warnings)."""
    out = []
    for warning in incident_warnings(config):
        key, _, message = warning.partition(" ")
        out.append(Finding(key.rstrip(":"), None, message))
    return out


# Each check reads a loaded config and returns warnings; check-config runs them in this order.
WARNINGS: list[Callable[[Config], list[Finding]]] = [_channels_without_secrets, _incident_warnings]

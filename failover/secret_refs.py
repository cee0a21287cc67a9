"""Secret references: secrets are never written in the config, only pointed at.

``${NAME}`` reads an environment variable, ``file:/path`` reads a file (trailing newline
dropped), ``credential:NAME`` reads a systemd credential from ``$CREDENTIALS_DIRECTORY``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

_ENV_RE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class MissingSecret(LookupError):
    """A reference points at nothing; the message names the reference, never a value."""


def is_reference(value: str) -> bool:
    return bool(_ENV_RE.match(value)) or value.startswith(("file:", "credential:"))


def resolve(value: str, env: Mapping[str, str]) -> str:
    """Return the secret a reference points at; plain strings are returned unchanged."""
    m = _ENV_RE.match(value)
    if m:
        name = m.group(1)
        if name not in env or env[name] == "":
            raise MissingSecret(f"environment variable {name} is not set")
        return env[name]
    if value.startswith("file:"):
        return _read(Path(value.removeprefix("file:")), value)
    if value.startswith("credential:"):
        directory = env.get("CREDENTIALS_DIRECTORY")
        name = value.removeprefix("credential:")
        if not directory:
            raise MissingSecret(f"{value}: CREDENTIALS_DIRECTORY is not set (not run by systemd?)")
        if "/" in name or name in ("", ".", ".."):
            raise MissingSecret(f"{value}: a credential name cannot contain '/'")
        return _read(Path(directory) / name, value)
    return value


def _read(path: Path, ref: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MissingSecret(f"{ref}: no such file") from None
    except OSError as exc:
        raise MissingSecret(f"{ref}: cannot read ({exc.strerror})") from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise MissingSecret(f"{ref}: the file is empty")
    return text

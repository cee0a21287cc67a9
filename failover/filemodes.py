"""Only the daemon's own user reads what the daemon keeps.

The state directory holds the database (token and session hashes, every message), media,
channel sessions and keys. ``make_private`` runs first thing at start: umask 077, so every
file the process creates is 0600 and every directory 0700 however it was started (a shell's
022, a container's 000, systemd's own ``UMask=``); and what an older run left with wider
modes is tightened once. The public page's files are the one exception, made readable on
purpose by the feed channel.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

UMASK = 0o077


def make_private(state_dir: Path, extra_files: Iterable[Path] = ()) -> None:
    """Set the umask, make ``state_dir`` 0700 and tighten everything already in it."""
    os.umask(UMASK)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _tighten(state_dir)
    for root, dirs, files in os.walk(state_dir):
        for name in [*dirs, *files]:
            _tighten(Path(root) / name)
    for path in extra_files:
        if path.exists():
            _tighten(path)


def _tighten(path: Path) -> None:
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode) or not mode & 0o077:
        return
    path.chmod(stat.S_IMODE(mode) & ~0o077)


def private_file(path: Path) -> None:
    """Create ``path`` 0600 if it does not exist (SQLite gives its WAL and SHM files the
    database file's mode), and tighten it if it does."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, stat.S_IMODE(os.fstat(fd).st_mode) & ~0o077)
    finally:
        os.close(fd)

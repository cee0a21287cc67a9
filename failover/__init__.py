"""failover: when the primary social platform goes down, posts still reach people."""

from __future__ import annotations

__version__ = "0.1.0"

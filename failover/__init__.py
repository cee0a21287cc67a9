"""failover: when the primary social platform goes down, posts still reach people."""

__version__ = "0.1.0"

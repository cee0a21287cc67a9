"""The steps of sending one claimed delivery: compose, send, record, and the route's other
tiers. ``failover/dispatcher.py`` is the entry point that runs them in order."""

"""The daemon's own fediverse account: the daemon-side half of the ``activitypub`` channel
(store, HTTP routes, inbox, per-inbox delivery queue). Documents, signatures and the channel
adapter itself live in ``channels.activitypub``."""

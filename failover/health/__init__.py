"""Channel health: the pure state machine (``machine``), the probe runner and send gate
(``monitor``, ``gate``), and what the daemon does when a channel's health changes
(``reactions``)."""

"""Channel adapters for failover: one module per platform behind the interface in ``base``."""

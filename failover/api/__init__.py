"""The daemon's HTTP face: REST API under /api/v1, liveness, readiness, the public page."""

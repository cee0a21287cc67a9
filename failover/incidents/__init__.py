"""Incidents, scheduled maintenance and the company's components (issue 16).

Every update is a message on the incident's route, threaded after its first post, so
routing, failover, fitting and retry apply to incidents exactly as to any message.
"""

"""The status page's subscribers: email (double opt-in, one-click unsubscribe, bounce
suppression) and signed webhooks, as a recipient source for the email channel and a fan-out.
"""

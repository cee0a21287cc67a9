"""The text of each update: its state as a prefix people recognise ("[Identified] …").

Templates come from ``[incidents.templates]`` in the config, keyed by state (and
``reminder`` for the maintenance reminder); a state without one uses the default.
"""

from __future__ import annotations

from collections.abc import Mapping

LABELS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
    "scheduled": "Scheduled",
    "in_progress": "In progress",
    "verifying": "Verifying",
    "completed": "Completed",
    "reminder": "Reminder",
}
FIELDS = ("title", "body", "state", "impact")


def default_template(key: str) -> str:
    return f"[{LABELS[key]}] {{title}}: {{body}}"


def check_template(key: str, template: str) -> str | None:
    """Why ``template`` cannot be used for ``key``, or None when it can."""
    if key not in LABELS:
        return f"unknown state {key!r}; use one of {', '.join(LABELS)}"
    try:
        template.format(**dict.fromkeys(FIELDS, ""))
    except (KeyError, IndexError, ValueError) as exc:
        return f"cannot fill {template!r} ({exc}); it may use {{{'}, {'.join(FIELDS)}}}"
    return None


def render(
    key: str, title: str, body: str, impact: str, templates: Mapping[str, str] | None = None
) -> str:
    """The message text of an update in state ``key`` (or "reminder")."""
    template = (templates or {}).get(key) or default_template(key)
    return template.format(title=title, body=body, state=LABELS.get(key, key), impact=impact)

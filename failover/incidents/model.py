"""The vocabulary of incidents and components, and what a client may send (validated).

Statuspage's words, so people and its clients recognise them. Validation errors name the
field, so the API answers a 4xx that says what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from failover import wording
from failover.durations import Duration
from failover.errors import InvalidInput
from failover.intake import _check_strings

IMPACTS = ("none", "minor", "major", "critical")
INCIDENT_STATES = ("investigating", "identified", "monitoring", "resolved")
MAINTENANCE_STATES = ("scheduled", "in_progress", "verifying", "completed")
STATUSES = (
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
)  # from least to most severe
MAINTENANCE_IMPACT = "maintenance"
MAX_BODY = 10_000  # characters of an update's text
MAX_COMPONENTS = 200  # components one incident may name
MAX_REMIND = 365 * 86400.0  # seconds: a reminder further ahead is a typo

Status = Literal[
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
]
IncidentState = Literal["investigating", "identified", "monitoring", "resolved"]
MaintenanceState = Literal["scheduled", "in_progress", "verifying", "completed"]
Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]


def states_of(kind: str) -> tuple[str, ...]:
    return MAINTENANCE_STATES if kind == "maintenance" else INCIDENT_STATES


def is_final(state: str) -> bool:
    return state in ("resolved", "completed")


def worst(statuses: Iterable[str]) -> str:
    """The most severe status of several (operational when there are none)."""
    return max(statuses, key=STATUSES.index, default="operational")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IncidentIn(_In):
    """Opening an incident."""

    title: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    impact: Literal["none", "minor", "major", "critical"] = "minor"
    state: Literal["investigating", "identified", "monitoring"] = "investigating"
    components: Annotated[dict[Slug, Status], Field(max_length=MAX_COMPONENTS)] = {}
    route: str | None = Field(None, max_length=100)


class UpdateIn(_In):
    """A later update: its state, its text, and (optionally) the components' new statuses."""

    state: str = Field(min_length=1, max_length=40)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    components: Annotated[dict[Slug, Status], Field(max_length=MAX_COMPONENTS)] | None = None


class MaintenanceIn(_In):
    """Scheduling maintenance: the components it takes down, when, and what to post when."""

    title: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    components: Annotated[list[Slug], Field(max_length=MAX_COMPONENTS)] = []
    scheduled_for: AwareDatetime
    scheduled_until: AwareDatetime
    remind_before: Duration | None = None
    auto_start: bool = False
    auto_complete: bool = False
    route: str | None = Field(None, max_length=100)

    @model_validator(mode="after")
    def _ends_after_start(self) -> MaintenanceIn:
        for name in ("scheduled_for", "scheduled_until"):
            if not 2000 <= getattr(self, name).year <= 9000:
                raise ValueError(f"{name} must be a year between 2000 and 9000")
        if self.scheduled_until <= self.scheduled_for:
            raise ValueError("scheduled_until must be after scheduled_for")
        if self.remind_before is not None and not 0 < self.remind_before <= MAX_REMIND:
            raise ValueError("remind_before must be a duration from 1s to 365d")
        return self


class ComponentIn(_In):
    id: Slug
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=1000)
    group: str | None = Field(None, max_length=200)
    position: int = Field(0, ge=0, le=1_000_000)
    probe: str | None = Field(None, max_length=2000, pattern=r"^https?://\S+$")


class ComponentPatch(_In):
    status: Status


_M = TypeVar("_M", bound=BaseModel)


def validated(model: type[_M], payload: Any) -> _M:
    """``payload`` as ``model``, or InvalidInput naming the first field at fault."""
    if not isinstance(payload, dict):
        raise InvalidInput("body", "must be a JSON object")
    _check_strings(payload)  # no NUL or lone surrogate: no store takes them
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "body"
        if err["type"] == "value_error":
            text = str(err["ctx"]["error"])
            head, _, rest = text.partition(" ")
            if not err["loc"] and head in model.model_fields:  # a check across fields
                raise InvalidInput(head, rest) from None
            raise InvalidInput(field, text) from None
        if err["type"] == "string_pattern_mismatch":
            raise InvalidInput(field, _PATTERNS.get(field.split(".")[0], "has characters not allowed here")) from None  # fmt: skip
        raise InvalidInput(field, wording.plain(err, json=True)) from None


_PATTERNS = {
    "id": "use lower-case letters, digits, - and _ (e.g. api-eu)",
    "components": "a component id uses lower-case letters, digits, - and _",
    "probe": "must be a web address starting with https:// or http://",
}

"""The TOML config, validated into typed models, with errors that name the key path and line.

Channel keys the core owns (``type``, ``enabled``, ``concurrency``, ``retry``, ``health``)
are validated here; every other key of ``[channels.NAME]`` belongs to the adapter and is
validated by its ``Options`` model. Secret references are resolved on load; a channel whose
secrets are missing is kept, marked unavailable, and reported — never silently dropped.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from channels.base import Channel, ChannelOptions
from channels.registry import UnknownChannelType, adapter_class
from failover import wording
from failover.durations import Duration, parse_duration
from failover.errors import ConfigError
from failover.secret_refs import MissingSecret, is_reference, resolve

CORE_CHANNEL_KEYS = frozenset(
    {"type", "enabled", "concurrency", "retry", "health", "profile", "display_name"}
)
ALERTS_ROUTE = "_alerts"


MAX_CONCURRENCY = 256  # sends in flight per channel and daemon, at most


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryConfig(_Strict):
    """The retry budget of one channel: attempts and total time, backoff shape."""

    max_attempts: int = Field(8, ge=1, le=1000)
    max_elapsed: Duration = 3600.0
    initial: Duration = 2.0
    max_backoff: Duration = 300.0
    jitter: Duration = 1.0


class ProbeConfig(_Strict):
    kind: Literal["http", "statuspage", "adapter"]
    url: str | None = Field(None, validate_default=True)
    interval: Duration = 5.0
    timeout: Duration = 3.0
    expect_status: int = 200
    body_contains: str | None = None
    component: str | None = None  # statuspage: one component's status instead of the page's

    @field_validator("url")
    @classmethod
    def _url_needed(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if value is None and kind in ("http", "statuspage"):
            raise ValueError(f"missing: a probe of kind {kind!r} needs the url it checks")
        return value


class HealthConfig(_Strict):
    """Thresholds and hysteresis of a channel's health state machine."""

    probes: list[ProbeConfig] = []
    down_after: int = Field(3, ge=1)  # consecutive failures (probes or sends) to go down
    up_after: int = Field(2, ge=1)  # consecutive successes to come back up
    cooldown: Duration = 30.0  # time down before a half-open trial
    error_rate: float = Field(0.5, gt=0, le=1)  # or this share of failed sends in the window
    window: Duration = 60.0
    min_samples: int = Field(4, ge=1)
    # While a channel is suspect (failures counted, not down yet) its probes run this often
    # instead of their interval, and a failed send runs them at once: a real outage is
    # confirmed in about this time times down_after, a blip is cleared as fast.
    recheck: Duration = 0.5


class AnnounceConfig(_Strict):
    """Messages posted automatically when the route's primary goes down and comes back.

    Templates may use {channel}, {since}, {feed_url} and {profiles} (the fallback channels'
    ``profile`` links). The recovery message goes out only if the outage message did.
    """

    down: str | None = None
    up: str | None = None


def _off_or_duration(value: object) -> float | None:
    return None if value in ("off", False) else parse_duration(value)


# A duration, or "off" (None).
OffOrDuration = Annotated[float | None, BeforeValidator(_off_or_duration)]


class RouteConfig(_Strict):
    mode: Literal["failover", "broadcast"] = "failover"
    tiers: list[list[str]]
    fit: Literal["thread", "truncate", "reject"] = "thread"
    lateness: Duration = 900.0  # how late a scheduled post may still go out
    late: Literal["miss", "send"] = "miss"  # past ``lateness``: mark missed, or send paced
    late_spacing: Duration = 60.0  # min. gap between two late sends on one channel
    failback: Literal["none", "backfill"] = "none"
    failback_max_age: Duration | None = None
    failback_spacing: Duration = 5.0  # min. gap between two backfilled posts on the primary
    default_expiry: Duration | None = None  # messages without expires_at get this
    # failover mode: a tier that has not confirmed a message this long after its first
    # attempt there (hang, retries, rate limit, slow peer) hands it to the next tier too
    escalate_after: OffOrDuration = 20.0
    announce: AnnounceConfig = AnnounceConfig()

    @property
    def primary(self) -> list[str]:
        return self.tiers[0]

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, tiers: list[list[str]]) -> list[list[str]]:
        if not tiers or any(not tier for tier in tiers):
            raise ValueError("a route needs at least one tier, and no tier may be empty")
        seen: set[str] = set()
        for tier in tiers:
            for name in tier:
                if name in seen:
                    raise ValueError(f"channel {name!r} appears twice in the route")
                seen.add(name)
        return tiers


class ApiConfig(_Strict):
    listen: str = "127.0.0.1:8080"
    public_url: str | None = None  # how people reach this daemon (status page links)
    max_body: int = Field(10 * 1024 * 1024, ge=1024)
    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks); for the
    # failed-login throttle. Empty: the peer's address is the client's.
    trusted_proxies: list[IPvAnyNetwork] = []

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError('expected "host:port", e.g. "127.0.0.1:8080"')
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class AlertsConfig(_Strict):
    """Operator alerts, through their own ordered fallback list of channels."""

    channels: list[str] = []
    on: list[Literal["health", "reroute", "dead"]] = ["health", "reroute", "dead"]


class LogConfig(_Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "text", "json"] = "auto"


class TracingConfig(_Strict):
    """OpenTelemetry spans from acceptance through every attempt (the ``tracing`` extra)."""

    enabled: bool = False
    exporter: Literal["otlp", "console", "none"] = "otlp"
    endpoint: str | None = None  # OTLP/HTTP traces URL; default: $OTEL_EXPORTER_OTLP_ENDPOINT
    service_name: str = "failover"


class UiConfig(_Strict):
    """What the web UI and the public page show people."""

    # Times are shown (and typed in forms) in this zone, with its name; a browser that says
    # where its reader is shows the reader's zone instead.
    time_zone: str = "UTC"

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use a name like Europe/Berlin"
            ) from None
        return value


class SubscribersConfig(_Strict):
    """The status page's subscribers (failover/subscribers/): who sends their own mails, how
    long a confirmation link lives, and the subscribe form's limits."""

    email_channel: str | None = None  # an email channel: confirmation and notice mails
    confirm_within: Duration = 48 * 3600.0  # a confirmation link expires after this
    per_address: int = Field(3, ge=1)  # form requests per address per ``window``
    per_source: int = Field(20, ge=1)  # form requests per source address per ``window``
    window: Duration = 3600.0
    hook_notice_after: int = Field(5, ge=1)  # consecutive webhook failures: mail the contact
    # Waits before each retry of a copy a webhook subscriber missed, then it is given up
    # ([] = no retries). The default is failover.retry.HOOK_RETRIES, which says why.
    hook_retries: list[Duration] = Field(default=[30.0, 120.0, 600.0, 1800.0], max_length=20)


class StatusPageConfig(_Strict):
    """The public page at /status/ is always served from the store; ``static_dir`` also
    writes it as files there (every ``static_every``) for any web server to serve."""

    static_dir: Path | None = None
    static_every: Duration = 30.0


class ComponentConfig(_Strict):
    """One of the company's own services (``[components.<id>]``), shown on the status page;
    with ``probe``, the daemon watches it and opens a draft incident when it fails."""

    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    group: str | None = None
    position: int | None = Field(None, ge=0)  # default: its place in the file
    probe: str | None = Field(None, pattern=r"^https?://\S+$")
    probe_interval: Duration = 30.0
    probe_timeout: Duration = 5.0
    expect_status: int = 200
    down_after: int = Field(3, ge=1)  # failed probes in a row before it is a major outage
    up_after: int = Field(2, ge=1)  # good probes in a row before it is operational again


class IncidentsConfig(_Strict):
    """How incidents are posted (``[incidents]``)."""

    route: str | None = None  # where updates go; default: default_route
    templates: dict[str, str] = {}  # state (or "reminder") -> "[Identified] {title}: {body}"
    timer_interval: Duration = Field(5.0, gt=0)  # how often maintenance timers are looked at

    @field_validator("templates")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        from failover.incidents.templates import check_template

        for key, template in value.items():
            if (why := check_template(key, template)) is not None:
                raise ValueError(f"{key}: {why}")
        return value


class _TopLevel(_Strict):
    state_dir: str | None = None
    store: str = "sqlite"
    store_password: str | None = None  # a secret reference, for a postgresql:// store
    store_listen: str | None = None  # DSN for LISTEN when `store` goes through a pooler
    default_route: str | None = None
    claim_lease: Duration = 120.0
    shutdown_grace: Duration = 10.0
    leader_lease: Duration = 15.0  # several daemons: leadership moves within about this
    api: ApiConfig = ApiConfig()
    log: LogConfig = LogConfig()
    retry: RetryConfig = RetryConfig()
    alerts: AlertsConfig = AlertsConfig()
    tracing: TracingConfig = TracingConfig()
    ui: UiConfig = UiConfig()
    subscribers: SubscribersConfig = SubscribersConfig()
    status_page: StatusPageConfig = StatusPageConfig()
    channels: dict[str, dict[str, Any]] = {}
    routes: dict[str, RouteConfig] = {}
    components: dict[str, ComponentConfig] = {}
    incidents: IncidentsConfig = IncidentsConfig()


# The platform's own name per channel type, for people; third-party types show their key.
PLATFORM_NAMES = {
    "x": "X",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "email": "Email",
    "slack": "Slack",
    "apprise": "Notifications",
    "webhook": "Webhook",
    "feed": "Status page",
    "activitypub": "Fediverse",
}


@dataclass(frozen=True)
class ChannelConfig:
    name: str
    type: str
    options: ChannelOptions | None  # None when the options could not be validated
    enabled: bool = True
    concurrency: int = 4
    retry: RetryConfig = field(default_factory=RetryConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    missing: tuple[str, ...] = ()  # why the channel cannot be used (missing secrets)
    profile: str | None = None  # the public profile people can follow there
    display_name: str | None = None  # what people read ("X", "Mastodon"), never the config key

    @property
    def available(self) -> bool:
        return self.enabled and not self.missing and self.options is not None

    @property
    def label(self) -> str:
        """The name shown to people: ``display_name``, else the platform's name."""
        return self.display_name or PLATFORM_NAMES.get(self.type, self.name)


@dataclass(frozen=True)
class Config:
    source: Path | None
    state_dir: Path
    store: str
    api: ApiConfig
    log: LogConfig
    claim_lease: float
    shutdown_grace: float
    leader_lease: float
    channels: dict[str, ChannelConfig]
    routes: dict[str, RouteConfig]
    default_route: str
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    tracing: TracingConfig = field(default_factory=TracingConfig)
    store_password: str | None = field(default=None, repr=False)
    store_listen: str | None = None
    ui: UiConfig = field(default_factory=UiConfig)
    subscribers: SubscribersConfig = field(default_factory=SubscribersConfig)
    status_page: StatusPageConfig = field(default_factory=StatusPageConfig)
    components: dict[str, ComponentConfig] = field(default_factory=dict)
    incidents: IncidentsConfig = field(default_factory=IncidentsConfig)
    # Every value that came from a secret reference, whatever key it sits under: masked in
    # check-config's output and in every log line.
    secret_values: frozenset[str] = field(default=frozenset(), repr=False)

    @property
    def database_path(self) -> Path:
        if self.store.startswith("sqlite:///"):
            return Path(self.store.removeprefix("sqlite://"))
        return self.state_dir / "failover.db"

    def masked(self) -> dict[str, Any]:
        """The resolved config as plain data with every secret masked (for check-config):
        secret fields, DSN passwords, and any value that came from a reference."""
        masked: dict[str, Any] = mask_values(self._plain(), self.secret_values)
        return masked

    def _plain(self) -> dict[str, Any]:
        return {
            "state_dir": str(self.state_dir),
            "store": _mask_dsn(self.store),
            "api": self.api.model_dump(),
            "default_route": self.default_route,
            "channels": {
                name: {
                    "type": ch.type,
                    "available": ch.available,
                    "missing": list(ch.missing),
                    "concurrency": ch.concurrency,
                    "options": ch.options.model_dump(mode="json") if ch.options else None,
                }
                for name, ch in self.channels.items()
            },
            "routes": {name: r.model_dump() for name, r in self.routes.items()},
        }


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file; raise ConfigError listing every problem found."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read config file: {exc.strerror}"], str(path)) from None
    return parse_config(text, source=path, env=os.environ if env is None else env)


def parse_config(text: str, *, source: Path | None = None, env: Mapping[str, str]) -> Config:
    where = str(source) if source else None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], where) from None
    locate = _Locator(text)
    problems: list[str] = []
    from_refs: list[str] = []
    raw = _resolve_top_level(raw, env, locate, problems, from_refs)
    top = _validate_top(raw, locate, problems)
    store_password = _store_password(top, env, locate, problems, from_refs)
    channels: dict[str, ChannelConfig] = {}
    for name, table in top.channels.items():
        channel = _channel(name, table, top.retry, env, locate, problems, from_refs)
        if channel is not None:
            channels[name] = channel
    declared: dict[str, Any] = raw["routes"] if isinstance(raw.get("routes"), dict) else {}
    _check_names(top, declared, locate, problems)
    if problems:
        raise ConfigError(sorted(problems, key=_line_of), where)  # in file order

    base = source.parent if source else Path.cwd()
    state = top.state_dir or env.get("STATE_DIRECTORY") or "state"
    return Config(
        source=source,
        state_dir=(base / state).resolve(),
        store=top.store,
        store_password=store_password,
        store_listen=top.store_listen,
        api=top.api,
        log=top.log,
        claim_lease=top.claim_lease,
        shutdown_grace=top.shutdown_grace,
        leader_lease=top.leader_lease,
        channels=channels,
        routes=_with_alerts_route(top.routes, top.alerts),
        default_route=_default_route(top),
        alerts=top.alerts,
        tracing=top.tracing,
        ui=top.ui,
        subscribers=top.subscribers,
        status_page=_relative_to(top.status_page, base),
        components=top.components,
        incidents=top.incidents,
        secret_values=frozenset(from_refs),
    )


def _store_password(
    top: _TopLevel,
    env: Mapping[str, str],
    locate: _Locator,
    problems: list[str],
    from_refs: list[str],
) -> str | None:
    """The store's password, its reference resolved; unlike a channel's secret, a missing one
    is an error (the store is not optional)."""
    if top.store_password is None:
        return None
    missing: list[str] = []
    password: str | None = _resolve_refs(
        top.store_password, "store_password", True, env, locate, missing, problems, from_refs
    )
    problems += missing
    return password


def _check_names(
    top: _TopLevel, declared: dict[str, Any], locate: _Locator, problems: list[str]
) -> None:
    """Every channel, route and component named anywhere exists and is spelled as allowed.
    ``declared``: the routes as written, before validation dropped any."""
    for rname, route in top.routes.items():
        for tier in route.tiers:
            for cname in tier:
                if cname not in top.channels:
                    problems.append(
                        f"routes.{rname}.tiers{locate.line('routes', rname, 'tiers')}: "
                        f"unknown channel {cname!r}"
                    )
    for i, cname in enumerate(top.alerts.channels):
        if cname not in top.channels:
            problems.append(
                f"alerts.channels[{i}]{locate.line('alerts', 'channels')}: unknown channel {cname!r}"
            )
    if ALERTS_ROUTE in top.routes:
        problems.append(f"routes.{ALERTS_ROUTE}: this name is reserved for operator alerts")
    if not declared:
        problems.append("routes: at least one route is needed, e.g. [routes.default]")
    if top.default_route and top.default_route not in declared:
        problems.append(f"default_route: no route named {top.default_route!r}")
    if top.incidents.route and top.incidents.route not in declared:
        problems.append(f"incidents.route: no route named {top.incidents.route!r}")
    for cid in top.components:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", cid):
            problems.append(
                f"components.{cid}: use lower-case letters, digits, - and _ for a component id"
            )


def _default_route(top: _TopLevel) -> str:
    """The one named, else the route called "default", else the first."""
    default_route = top.default_route or ("default" if "default" in top.routes else "")
    if not default_route and top.routes:
        default_route = next(iter(top.routes))
    return default_route


def _relative_to(page: StatusPageConfig, base: Path) -> StatusPageConfig:
    """A relative ``static_dir`` is relative to the config file, like ``state_dir``."""
    if page.static_dir is None:
        return page
    return page.model_copy(update={"static_dir": (base / page.static_dir).resolve()})


def _validate_top(raw: dict[str, Any], locate: _Locator, problems: list[str]) -> _TopLevel:
    """The top level, validated; a part that fails is reported and left out, so the rest is
    still checked and one run reports every mistake."""
    raw = dict(raw)
    for _ in range(3):
        try:
            return _TopLevel.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_describe(exc, (), locate))
            for err in exc.errors():
                head, *rest = (str(p) for p in err["loc"])
                part = raw.get(head)
                if rest and head in ("routes", "channels", "components") and isinstance(part, dict):
                    raw[head] = {k: v for k, v in part.items() if k != rest[0]}
                else:
                    raw.pop(head, None)
    return _TopLevel()


def _line_of(problem: str) -> int:
    found = re.search(r" \(line (\d+)\): ", problem)
    return int(found[1]) if found else 1_000_000


def _with_alerts_route(
    routes: dict[str, RouteConfig], alerts: AlertsConfig
) -> dict[str, RouteConfig]:
    """Alerts travel as messages on a hidden failover route: one tier per alert channel."""
    out = dict(routes)
    if alerts.channels:
        out[ALERTS_ROUTE] = RouteConfig(
            mode="failover",
            tiers=[[c] for c in alerts.channels],
            fit="truncate",
            late="send",
            lateness=86400.0,
        )
    return out


def _channel(
    name: str,
    table: dict[str, Any],
    default_retry: RetryConfig,
    env: Mapping[str, str],
    locate: _Locator,
    problems: list[str],
    from_refs: list[str],
) -> ChannelConfig | None:
    prefix = ("channels", name)
    found = _adapter(name, table, locate, problems)
    if found is None:
        return None
    ctype, cls = found
    core = {k: v for k, v in table.items() if k in CORE_CHANNEL_KEYS and k != "type"}
    try:
        core_model = _ChannelCore.model_validate(
            {**core, "retry": {**default_retry.model_dump(), **core.get("retry", {})}}
        )
    except ValidationError as exc:
        problems.extend(_describe(exc, prefix, locate))
        return None

    missing: list[str] = []
    options_raw: dict[str, Any] = {}
    secret_fields = _secret_fields(cls.Options)
    for key, value in table.items():
        if key in CORE_CHANNEL_KEYS:
            continue
        options_raw[key] = _resolve_refs(
            value, f"channels.{name}.{key}", key in secret_fields, env, locate, missing,
            problems, from_refs,
        )  # fmt: skip
    options: ChannelOptions | None = None
    if not missing:
        try:
            options = cls.Options.model_validate(options_raw)
        except ValidationError as exc:
            problems.extend(_describe(exc, prefix, locate))
            return None
    return ChannelConfig(
        name=name,
        type=ctype,
        options=options,
        enabled=core_model.enabled,
        concurrency=core_model.concurrency,
        retry=core_model.retry,
        health=core_model.health,
        missing=tuple(missing),
        profile=core_model.profile,
        display_name=core_model.display_name,
    )


def _adapter(
    name: str, table: dict[str, Any], locate: _Locator, problems: list[str]
) -> tuple[str, type[Channel]] | None:
    """The channel's type and its adapter class, or None with the problem reported."""
    prefix = ("channels", name)
    ctype = table.get("type")
    if not isinstance(ctype, str):
        problems.append(
            f"channels.{name}.type{locate.line(*prefix)}: missing (every channel needs a type)"
        )
        return None
    try:
        return ctype, adapter_class(ctype)
    except UnknownChannelType as exc:
        problems.append(f"channels.{name}.type{locate.line(*prefix, 'type')}: {exc}")
    except ImportError as exc:
        problems.append(f"channels.{name}.type: adapter {ctype!r} cannot be loaded: {exc}")
    return None


class _ChannelCore(_Strict):
    profile: str | None = None
    display_name: str | None = Field(None, min_length=1, max_length=80)
    enabled: bool = True
    concurrency: int = Field(4, ge=1, le=MAX_CONCURRENCY)
    retry: RetryConfig = RetryConfig()
    health: HealthConfig = HealthConfig()


def _resolve_refs(
    value: Any,
    key: str,
    secret: bool,
    env: Mapping[str, str],
    locate: _Locator,
    missing: list[str],
    problems: list[str],
    from_refs: list[str],
) -> Any:
    """Resolve every reference in ``value``, lists and tables included (a webhook's
    ``headers``); each resolved value is added to ``from_refs``."""
    if isinstance(value, list):
        return [
            _resolve_refs(v, f"{key}[{i}]", secret, env, locate, missing, problems, from_refs)
            for i, v in enumerate(value)
        ]
    if isinstance(value, dict):
        return {
            k: _resolve_refs(v, f"{key}.{k}", secret, env, locate, missing, problems, from_refs)
            for k, v in value.items()
        }
    if not isinstance(value, str):
        return value
    if not is_reference(value):
        if secret:
            problems.append(
                f"{key}{locate.line(*key.split('[', maxsplit=1)[0].split('.'))}: secrets must not be written "
                'in the config; use a reference: "${ENV_VAR}", "file:/path" or "credential:NAME"'
            )
        return value
    try:
        resolved = resolve(value, env)
    except MissingSecret as exc:
        missing.append(f"{key}: {exc}")
        return None
    from_refs.append(resolved)
    return resolved


def _resolve_top_level(
    raw: dict[str, Any],
    env: Mapping[str, str],
    locate: _Locator,
    problems: list[str],
    from_refs: list[str],
) -> dict[str, Any]:
    """References outside ``[channels]`` (the store's DSN, an API URL...) are resolved too;
    one that points at nothing is an error. ``store_password`` is resolved on its own."""
    out = dict(raw)
    for key, value in raw.items():
        if key in ("channels", "store_password"):
            continue
        missing: list[str] = []
        out[key] = _resolve_refs(value, key, False, env, locate, missing, problems, from_refs)
        problems += missing
    return out


def mask_values(data: Any, secrets: frozenset[str], mask: str = "***") -> Any:
    """``data`` with every string that holds one of ``secrets`` replaced by ``mask``."""
    if isinstance(data, dict):
        return {k: mask_values(v, secrets, mask) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [mask_values(v, secrets, mask) for v in data]
    if isinstance(data, str) and any(s == data or (len(s) >= 4 and s in data) for s in secrets):
        return mask
    return data


def _secret_fields(model: type[BaseModel]) -> set[str]:
    def has_secret(tp: Any) -> bool:
        return tp is SecretStr or any(has_secret(a) for a in get_args(tp))

    return {name for name, f in model.model_fields.items() if has_secret(f.annotation)}


def _describe(exc: ValidationError, prefix: tuple[str, ...], locate: _Locator) -> list[str]:
    out = []
    for err in exc.errors():
        loc = [*prefix, *(str(p) for p in err["loc"])]
        path = ".".join(loc)
        out.append(f"{path}{locate.line(*loc)}: {wording.plain(err)}")
    return out


def _mask_dsn(dsn: str) -> str:
    if "://" in dsn and "@" in dsn:
        scheme, rest = dsn.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return dsn


class _Locator:
    """Finds the line of a key path in the TOML text (tomllib keeps no positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def line(self, *path: str) -> str:
        """ " (line N)" for the deepest part of ``path`` found, or "" if none."""
        path = tuple(p for p in path if not p.isdigit())
        for depth in range(len(path), 0, -1):
            n = self._find(path[:depth])
            if n:
                return f" (line {n})"
        return ""

    def _find(self, path: tuple[str, ...]) -> int | None:
        table: tuple[str, ...] = ()
        for i, raw in enumerate(self.lines, 1):
            s = raw.strip()
            if s.startswith("["):
                table = tuple(p.strip().strip('"') for p in s.strip("[]").split("."))
                if table == path:
                    return i
                continue
            if "=" in s and not s.startswith("#"):
                key = tuple(p.strip().strip('"') for p in s.split("=", 1)[0].split("."))
                if table + key == path:
                    return i
        return None

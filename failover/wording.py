"""Pydantic's validation messages ("Input should be a valid integer") said the way failover's
own config errors are ("expected a whole number, e.g. 3"): what to write, not what failed."""

from __future__ import annotations

from typing import Any

from pydantic_core import ErrorDetails

_BY_TYPE = {
    "missing": "missing (this key is required)",
    "extra_forbidden": "unknown key (check the spelling; see config.example.toml)",
    "int_type": "expected a whole number, e.g. 3",
    "int_parsing": "expected a whole number, e.g. 3",
    "int_from_float": "expected a whole number, e.g. 3 (not 3.5)",
    "float_type": "expected a number, e.g. 0.5",
    "float_parsing": "expected a number, e.g. 0.5",
    "bool_type": "expected true or false (without quotes)",
    "bool_parsing": "expected true or false (without quotes)",
    "string_type": 'expected text in quotes, e.g. "example"',
    "list_type": 'expected a list in brackets, e.g. ["a", "b"]',
    "dict_type": "expected a table of keys (a [section] or { key = value })",
    "model_type": "expected a table of keys (a [section] or { key = value })",
    "model_attributes_type": "expected a table of keys (a [section] or { key = value })",
    "url_parsing": 'expected a full URL, e.g. "https://example.com/path"',
    "json_invalid": "expected valid JSON",
    "timezone_aware": "needs a time zone, e.g. 2026-12-01T09:00+01:00 or ...Z",
    "datetime_from_date_parsing": "expected a date and time like 2026-12-01T09:00+01:00",
    "datetime_parsing": "expected a date and time like 2026-12-01T09:00+01:00",
    "datetime_type": "expected a date and time like 2026-12-01T09:00+01:00",
}


# The same errors in a JSON request (the API, the web forms) rather than a TOML file.
_IN_JSON = {
    "missing": "is required",
    "extra_forbidden": "is not a field here (check the spelling)",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
}


def _ctx(err: ErrorDetails, key: str) -> Any:
    return (err.get("ctx") or {}).get(key)


def plain(err: ErrorDetails, *, json: bool = False) -> str:
    """The message for one Pydantic error, in failover's voice (``json``: in a request body)."""
    kind = err["type"]
    if json and kind in _IN_JSON:
        return _IN_JSON[kind]
    if kind in _BY_TYPE:
        return _BY_TYPE[kind]
    if kind == "literal_error":
        return f"expected one of {_ctx(err, 'expected')}"
    if kind == "enum":
        return f"expected one of {_ctx(err, 'expected')}"
    if kind == "greater_than_equal":
        return f"must be {_ctx(err, 'ge')} or more"
    if kind == "greater_than":
        return f"must be more than {_ctx(err, 'gt')}"
    if kind == "less_than_equal":
        return f"must be {_ctx(err, 'le')} or less"
    if kind == "less_than":
        return f"must be less than {_ctx(err, 'lt')}"
    if kind == "string_too_short":
        n = _ctx(err, "min_length")
        return f"too short: at least {n} character{'s' if n != 1 else ''}"
    if kind == "string_too_long":
        return f"too long: at most {_ctx(err, 'max_length')} characters"
    if kind in ("too_short", "too_long"):
        return err["msg"].replace("List should have", "needs").replace("Input should have", "needs")
    if kind == "url_scheme":
        return f"the URL must start with {_ctx(err, 'expected_schemes')}"
    msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if msg.startswith("Input should be "):
        msg = "expected " + msg.removeprefix("Input should be ")
    return msg

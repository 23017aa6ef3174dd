"""Data-defined sequences: a template's list of `steps`, with jumps by step id.

A template with `steps` is run by the generic `TemplateIntervention` workflow on the same
building blocks as the code-defined sequences. Everything is checked when the template is
read, and every problem is reported as `step '<id>': <field>: <reason>`.

The JSON spelling of `workflow_templates.steps` rows is accepted too (`name` without `id`,
`template_id`, `delay_days`, `duration_days`, `condition` with `operator`, string
`if_true_step` / `if_false_step`); only its jumps by index are refused, with the step id to
write instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import time, timedelta
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

import contracts.channels as channels
from contracts.conditions import Condition
from contracts.events import problem
from contracts.policies import MAX_DURATION, RetrySpec, parse_duration

# A step type is a channel of the registry (a message, or a call task) or one of these.
OTHER_TYPES = ("task", "wait", "condition", "approval", "webhook", "end")
STEP_TYPES: tuple[str, ...] = (*channels.names(), *OTHER_TYPES)

# A jump target that ends the sequence; no step may take this id.
END = "end"
# The event every wait understands without a signal of its own: the family answered.
RESPONSE_RECEIVED = "response_received"
TEMPLATE_WORKFLOW = "TemplateIntervention"

# The shortest wait or delay that counts as a pause in a loop.
MIN_WAIT = timedelta(seconds=1)

_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_EVENT = re.compile(r"^[a-z][a-z0-9_.-]{0,62}$")

_COMMON = {"id", "type", "name", "description"}
_TIMED = {"delay", "at", "next"}
_ACTING = {"requires_approval", "retry"}
_MESSAGE = {"template", "message", "fallback"}
_CALL = {"reason", "assign_to", "compensate"}
FIELDS_BY_TYPE: dict[str, set[str]] = {
    **{
        entry.channel.value: _COMMON
        | _TIMED
        | _ACTING
        | (_MESSAGE | ({"subject"} if entry.subject else set()) if entry.is_message else _CALL)
        for entry in channels.CHANNELS.values()
    },
    "task": _COMMON | _TIMED | _ACTING | {"reason", "assign_to", "task_type", "compensate"},
    "wait": _COMMON | {"duration", "until", "next"},
    "condition": _COMMON | {"if", "then", "else"},
    "approval": _COMMON | _TIMED | {"reason", "roles", "timeout", "on_timeout"},
    "webhook": _COMMON
    | _TIMED
    | _ACTING
    | {"url", "method", "body", "headers", "undo", "compensate", "keep"},
    "end": _COMMON | {"outcome"},
}
# Field names of the JSON spelling, read as ours.
_JSON_NAMES = {"template_id": "template", "if_true_step": "then", "if_false_step": "else"}
_JSON_DAYS = {"delay_days": "delay", "duration_days": "duration"}


class WebhookCall(BaseModel):
    """An HTTP call on an external system (e.g. an ITSM ticket update)."""

    model_config = ConfigDict(extra="forbid")

    url: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    body: dict[str, Any] | None = None
    headers: dict[str, str] = {}

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value

    @field_validator("method", mode="before")
    @classmethod
    def _method(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class Step(BaseModel):
    """One step of a data-defined sequence. Which fields apply depends on `type`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    id: str
    type: str  # one of STEP_TYPES
    name: str | None = None
    description: str = ""
    # When: previous completion + delay, or the next local `at` time; then out of quiet hours.
    delay: timedelta = timedelta(0)
    at: time | None = None
    # Where to go next when not the following step (`end` finishes the sequence).
    next: str | None = None
    requires_approval: bool = False
    retry: RetrySpec | None = None
    compensate: bool = False
    # a message channel: a message of the template's `messages`, or one written inline.
    template: str | None = None
    message: str | None = None
    subject: str | None = None
    # A channel (`email`, `sms`, `call`, ...) that sends the same message, or a step id to
    # jump to (a channel name wins over a step of the same id).
    fallback: str | None = None
    # call / task / approval
    reason: str | None = None
    assign_to: str | None = None
    task_type: str | None = None
    # wait: a duration, an event (`response_received` or a named event), or both.
    duration: timedelta | None = None
    until: str | None = None
    # condition
    if_: Condition | None = Field(default=None, alias="if")
    then: str | None = None
    else_: str | None = Field(default=None, alias="else")
    # approval
    roles: list[str] | None = None
    timeout: timedelta | None = None
    on_timeout: Literal["cancel", "skip", "proceed"] | None = None
    # webhook
    url: str | None = None
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    body: dict[str, Any] | None = None
    headers: dict[str, str] = {}
    undo: WebhookCall | None = None
    # Top-level fields of the webhook's JSON answer to keep; the rest is dropped.
    keep: list[str] = []
    # end
    outcome: str | None = None

    @field_validator("delay", "duration", "timeout", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> timedelta | None:
        return None if value is None else parse_duration(value)

    @field_validator("method", mode="before")
    @classmethod
    def _method(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if value not in STEP_TYPES:
            raise ValueError(f"unknown type {value!r} (use one of {', '.join(STEP_TYPES)})")
        return value

    @model_serializer(mode="wrap")
    def _only_what_was_written(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        # A stored step reads like the file it came from, not like every field's default.
        data: dict[str, Any] = handler(self)
        keep = {"id", "type"} | self.model_fields_set
        names = {
            (field.alias or name) if info.by_alias is not False else name: name
            for name, field in type(self).model_fields.items()
        }
        return {key: value for key, value in data.items() if names.get(key, key) in keep}

    @model_validator(mode="after")
    def _fits_its_type(self) -> Step:
        kind = self.type
        if self.sends_message and (self.template is None) == (self.message is None):
            raise ValueError("template: give either `template` (a message name) or `message`")
        if kind == "wait" and self.duration is None and self.until is None:
            raise ValueError("duration: a wait needs `duration`, `until` or both")
        if (
            kind == "wait"
            and self.until is None
            and self.duration is not None
            and self.duration < MIN_WAIT
        ):
            raise ValueError(
                f"duration: a wait of {self.duration.total_seconds():g}s waits for nothing "
                f"(at least {MIN_WAIT.total_seconds():g}s, or wait `until` an event)"
            )
        if self.until is not None and not _EVENT.match(self.until):
            raise ValueError(f"until: {self.until!r} is not an event name")
        if kind == "condition" and (self.if_ is None or self.then is None or self.else_ is None):
            raise ValueError("if: a condition needs `if`, `then` and `else`")
        if kind == "webhook":
            if self.url is None:
                raise ValueError("url: a webhook needs `url`")
            WebhookCall(url=self.url, method=self.method, body=self.body, headers=self.headers)
            if self.compensate and self.undo is None:
                raise ValueError("compensate: a webhook is undone by its `undo` call; add one")
        if self.delay < timedelta(0):
            raise ValueError("delay: cannot be negative")
        return self

    @property
    def channel(self) -> channels.ChannelSpec | None:
        """The registry entry of a step that contacts the family (a message or a call)."""
        return channels.find(self.type)

    @property
    def sends_message(self) -> bool:
        """Whether the step sends a message on a channel."""
        entry = self.channel
        return entry is not None and entry.is_message

    @property
    def label(self) -> str:
        """What a person reads in the history and the timeline."""
        return self.name or self.id

    def jumps(self) -> Iterator[tuple[str, str]]:
        """(field, target) of every explicit jump this step can take."""
        for field_name, target in (("next", self.next), ("then", self.then), ("else", self.else_)):
            if target is not None:
                yield field_name, target
        if self.fallback is not None and channels.find(self.fallback) is None:
            yield "fallback", self.fallback

    @property
    def waits(self) -> bool:
        """Whether running this step takes time: a cycle through it is not a busy loop."""
        # A wait of no time (or a delay of less than a second) is no pause: a loop through
        # it would spin, continuing as new as fast as the server lets it.
        return (
            (
                self.type == "wait"
                and (self.until is not None or (self.duration or MIN_WAIT) >= MIN_WAIT)
            )
            or self.type == "approval"
            or self.delay >= MIN_WAIT
            or self.at is not None
            or self.requires_approval
        )


class ScheduleSpec(BaseModel):
    """When a schedule trigger fires, in which time zone, and for which families."""

    model_config = ConfigDict(extra="forbid")

    cron: str
    timezone: str = "UTC"
    # Families whose current data match start the sequence; none means every family.
    filter: Condition | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"{value!r} is not a 5-field cron expression (min hour dom mon dow)")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if not is_valid_timezone(value):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name, e.g. Europe/Paris)")
        return value


def is_valid_timezone(name: str) -> bool:
    """Whether `name` is an IANA zone key this host can load."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


# ----------------------------------------------------------------------------- reading


def parse_steps(value: Any) -> list[Step]:
    """Read a step list (ours or the JSON spelling); problems name the step and field."""
    if not isinstance(value, list) or not value:
        raise problem("steps: give a non-empty list of steps")
    if all(isinstance(item, Step) for item in value):
        return list(value)
    raw = [_as_mapping(item, index) for index, item in enumerate(value)]
    ids = [_step_id(item, index) for index, item in enumerate(raw)]
    return [_read_step(item, step_id, ids) for item, step_id in zip(raw, ids, strict=True)]


def _as_mapping(item: Any, index: int) -> dict[str, Any]:
    if isinstance(item, Step):
        return item.model_dump(by_alias=True)
    if not isinstance(item, dict):
        raise problem(f"step #{index + 1}: expected a mapping with `id` and `type`")
    return dict(item)


def _step_id(item: dict[str, Any], index: int) -> str:
    step_id = item.get("id")
    if step_id is None and isinstance(item.get("name"), str):
        # The JSON spelling names steps ("Send Initial Email"); the id is that name as a slug.
        step_id = re.sub(r"[^a-z0-9]+", "_", item["name"].lower()).strip("_")
    if not isinstance(step_id, str) or not step_id:
        raise problem(f"step #{index + 1}: id: every step needs an id (e.g. id: first_email)")
    if not _ID.match(step_id):
        raise problem(
            f"step '{step_id}': id: use lower-case letters, digits and underscores, "
            "starting with a letter"
        )
    if step_id == END:
        raise problem(f"step '{step_id}': id: '{END}' is reserved; choose another id")
    return step_id


def _read_step(item: dict[str, Any], step_id: str, ids: list[str]) -> Step:
    where = f"step '{step_id}'"
    data = {"id": step_id, **{k: v for k, v in item.items() if k != "id"}}
    for json_name, days_name in _JSON_DAYS.items():
        if json_name in data:
            days = data.pop(json_name)
            if isinstance(days, bool) or not isinstance(days, int | float) or not days >= 0:
                raise problem(f"{where}: {json_name}: not a number of days: {days!r}")
            try:
                data[days_name] = parse_duration(days * 86400.0)
            except ValueError:
                raise problem(
                    f"{where}: {json_name}: {days!r} days is more than "
                    f"{MAX_DURATION.days}, the longest"
                ) from None
    for json_name, name in _JSON_NAMES.items():
        if json_name not in data:
            continue
        target = data.pop(json_name)
        if isinstance(target, int) and not isinstance(target, bool):
            hint = f"{name}: {ids[target]}" if 0 <= target < len(ids) else f"{name}: <a step id>"
            raise problem(
                f"{where}: {json_name}: jumps by index ({target}) are not supported; "
                f"name the target step instead, e.g. `{hint}`"
            )
        data[name] = target
    if data.get("type") == "condition" and "condition" in data:
        data["if"] = data.pop("condition")
    if isinstance(data.get("if"), dict):
        data["if"] = _json_condition(data["if"])
    kind = data.get("type")
    if kind not in FIELDS_BY_TYPE:
        raise problem(f"{where}: type: unknown type {kind!r} (use one of {', '.join(STEP_TYPES)})")
    known = {field.alias or name for name, field in Step.model_fields.items()}
    for key, value in data.items():
        if key not in known:
            raise problem(f"{where}: {key}: unknown field for a {kind} step")
        if key not in FIELDS_BY_TYPE[kind] and value not in (None, False, [], {}):
            allowed = ", ".join(sorted(FIELDS_BY_TYPE[kind] - {"id", "type"}))
            raise problem(f"{where}: {key}: does not apply to a {kind} step (use: {allowed})")
    try:
        return Step.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["loc"]:
            message = ".".join(str(p) for p in first["loc"]) + ": " + message
        raise problem(f"{where}: {message}") from None


def _json_condition(condition: dict[str, Any]) -> dict[str, Any]:
    out = dict(condition)
    if "operator" in out:
        out["op"] = out.pop("operator")
    for key in ("all", "any"):
        if isinstance(out.get(key), list):
            out[key] = [_json_condition(c) if isinstance(c, dict) else c for c in out[key]]
    if isinstance(out.get("not"), dict):
        out["not"] = _json_condition(out["not"])
    return out

"""Reading template files: YAML or JSON in, validated `SequenceParams` out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from activities.rendering import BASE_VARIABLES, RenderError, variables
from contracts import MessageTemplate, SequenceParams
from contracts.webhook_rules import WebhookPolicy, template_problems

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


class TemplateFileError(ValueError):
    """A template file that cannot be used; the message names the file and the field."""


def read_template(path: Path, policy: WebhookPolicy | None = None) -> SequenceParams:
    """Parse and validate one template file; its webhooks against `policy` when given
    (the deployer's allowed hosts), else against the rules that need no settings."""
    try:
        data: Any = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise TemplateFileError(f"{path}: cannot read: {err}") from err
    if not isinstance(data, dict):
        raise TemplateFileError(f"{path}: expected a mapping at the top level")
    try:
        params = SequenceParams.model_validate(data)
    except ValidationError as err:
        raise TemplateFileError(f"{path}: {format_errors(err)}") from err
    check_messages(params, str(path))
    check_webhooks(params, str(path), policy)
    return params


def check_webhooks(params: SequenceParams, where: str, policy: WebhookPolicy | None) -> None:
    """Every webhook of the template reaches only allowed hosts and reads only its secrets."""
    problems = template_problems(params, policy)
    if problems:
        raise TemplateFileError(f"{where}: {'; '.join(problems)}")


def check_messages(params: SequenceParams, where: str) -> None:
    """Every message, named or inline in a step, uses only variables the context has."""
    messages = [(f"messages.{name}", message) for name, message in params.messages.items()]
    messages += [
        (f"step '{step.id}': message", MessageTemplate(subject=step.subject, body=step.message))
        for step in params.steps or []
        if step.message is not None
    ]
    for label, message in messages:
        try:
            unknown = variables(message) - BASE_VARIABLES
        except RenderError as err:
            raise TemplateFileError(f"{where}: {label}: {err}") from err
        if unknown:
            raise TemplateFileError(
                f"{where}: {label}: unknown variable(s) {', '.join(sorted(unknown))}"
                f" (available: {', '.join(sorted(BASE_VARIABLES))})"
            )


def builtin_templates() -> list[SequenceParams]:
    """The templates shipped with the code, loaded by the demo and `templates load`."""
    return [read_template(path) for path in sorted(TEMPLATE_DIR.glob("*.yaml"))]


def format_errors(err: ValidationError) -> str:
    """pydantic's errors as `field.path: reason; ...`, one clause per problem."""
    parts = []
    for error in err.errors():
        where = ".".join(str(p) for p in error["loc"]) or "template"
        if error["type"] == "template":
            # Step problems already name their step and field.
            parts.append(str(error["msg"]))
            continue
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)

"""Message rendering in a sandboxed, strict template engine.

A missing variable is an error, never an empty greeting; templates cannot reach Python
internals. Variables available to a message are `family_name`, `first_name` and
`family_id`, plus the family's free-form attributes. Each template source is compiled once
per worker (`compile_template`, a bounded cache); a source that fails to compile is not kept.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

from contracts import MessageTemplate

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
BASE_VARIABLES = frozenset({"family_name", "first_name", "family_id"})
COMPILED_TEMPLATES = 512


class RenderError(ValueError):
    """A message template that cannot be rendered with the data at hand."""


@lru_cache(maxsize=COMPILED_TEMPLATES)
def compile_template(source: str) -> Template:
    """The compiled template for a source text, from the cache when it was compiled before.

    Raises TemplateError as `from_string` does; a raise is never cached, so a broken source
    fails the same way on every call.
    """
    return _ENV.from_string(source)


def render(message: MessageTemplate, context: dict[str, Any]) -> tuple[str | None, str]:
    """Render subject and body; raise RenderError naming the problem."""
    try:
        subject = compile_template(message.subject).render(context) if message.subject else None
        body = compile_template(message.body).render(context)
    except TemplateError as err:
        raise RenderError(str(err)) from err
    return subject, body


def render_text(text: str, context: dict[str, Any]) -> str:
    """Render one template string (a webhook URL or body field); raise RenderError."""
    try:
        return compile_template(text).render(context)
    except TemplateError as err:
        raise RenderError(str(err)) from err


def variables(message: MessageTemplate) -> set[str]:
    """The variables a message uses, for validation before a template is published."""
    names: set[str] = set()
    for text in (message.subject, message.body):
        if text:
            try:
                names |= meta.find_undeclared_variables(_ENV.parse(text))
            except TemplateError as err:
                raise RenderError(str(err)) from err
    return names

"""Message rendering compiles each template source once per worker, with the same results and
the same errors as compiling it on every call."""

from __future__ import annotations

import pytest
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from activities.rendering import RenderError, compile_template, render, render_text
from contracts import MessageTemplate

CONTEXT = {"family_name": "Rivera", "first_name": "Ana", "family_id": "F1", "school": "Oak"}
# What rendering did before the cache: a fresh compile of the source on every call.
UNCACHED = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def uncached(source: str) -> str:
    try:
        return UNCACHED.from_string(source).render(CONTEXT)
    except TemplateError as err:
        return f"error: {err}"


def rendered(source: str) -> str:
    try:
        return render_text(source, CONTEXT)
    except RenderError as err:
        return f"error: {err}"


@pytest.fixture(autouse=True)
def empty_cache():
    compile_template.cache_clear()
    yield
    compile_template.cache_clear()


def test_a_second_render_of_the_same_source_is_not_compiled_again():
    message = MessageTemplate(subject="Hello {{ family_name }}", body="Hi {{ first_name }}")
    first = render(message, CONTEXT)
    assert compile_template.cache_info().misses == 2  # subject and body
    assert compile_template.cache_info().hits == 0
    second = render(message, {**CONTEXT, "first_name": "Luis"})
    assert compile_template.cache_info().misses == 2
    assert compile_template.cache_info().hits == 2
    assert first == ("Hello Rivera", "Hi Ana")
    assert second == ("Hello Rivera", "Hi Luis")
    render_text("Hi {{ first_name }}", CONTEXT)  # the same source through render_text
    assert compile_template.cache_info().hits == 3


def test_the_cache_is_bounded():
    maxsize = compile_template.cache_info().maxsize
    assert maxsize is not None
    for i in range(maxsize + 10):
        render_text(f"{{{{ family_id }}}}-{i}", CONTEXT)
    assert compile_template.cache_info().currsize == maxsize


@pytest.mark.parametrize(
    "source",
    [
        "Hi {{ first_name }} at {{ school }}",
        "{% if family_name %}Dear {{ family_name | upper }}{% endif %}",
        "plain text, no variables",
        "Hi {{ nickname }}",  # undefined: an error, never an empty greeting
        "Hi {{ first_name }",  # syntax error
        "{% for x in %}",  # syntax error
        "{{ family_name.__class__.__mro__ }}",  # the sandbox refuses Python internals
        "{{ first_name.upper.__globals__ }}",
    ],
)
def test_results_and_errors_are_those_of_a_fresh_compile(source):
    expected = uncached(source)
    assert rendered(source) == expected
    assert rendered(source) == expected  # the second time, from the cache (or failing again)


def test_a_failing_compile_is_not_cached():
    broken = "Hi {{ first_name }"
    for _ in range(2):
        with pytest.raises(RenderError, match="unexpected '}'"):
            render(MessageTemplate(body=broken), CONTEXT)
    info = compile_template.cache_info()
    assert (info.hits, info.misses, info.currsize) == (0, 2, 0)


def test_an_undefined_variable_fails_on_every_render_of_a_cached_template():
    message = MessageTemplate(body="Hi {{ first_name }}, from {{ school }}")
    assert render(message, CONTEXT) == (None, "Hi Ana, from Oak")
    for _ in range(2):
        with pytest.raises(RenderError, match="'school' is undefined"):
            render(message, {"first_name": "Ana"})
    assert compile_template.cache_info().hits == 2

"""Rendering templates: escaping, strict variables, defaults, layouts, and hostile templates
refused cleanly within a bounded time."""

import time
from typing import Any

import pytest

from postroom.domain.errors import InvalidEmailError
from postroom.domain.templates import parse_definition
from postroom.services.templates import Rendered, Renderer

# Generous for a slow CI machine; each hostile template is refused in milliseconds here.
BOUND_SECONDS = 2.0


def render(given: dict[str, Any] | None = None, **definition: Any) -> Rendered:
    return Renderer().render(parse_definition({"name": "t", **definition}), given or {})


def refused(given: dict[str, Any] | None = None, **definition: Any) -> dict[str, str]:
    """The errors a rendering is refused with, checked to come within the time bound."""
    started = time.perf_counter()
    with pytest.raises(InvalidEmailError) as refusal:
        render(given, **definition)
    assert time.perf_counter() - started < BOUND_SECONDS
    return refusal.value.errors


def test_html_values_are_escaped_and_text_values_are_not() -> None:
    """A value with markup is escaped in the HTML part, kept as it is in subject and text."""
    found = render(
        {"name": "<b>Ann</b> & co"},
        subject="Hi {{ name }}",
        html="<p>{{ name }}</p>",
        text="Hi {{ name }}",
    )
    assert found.subject == "Hi <b>Ann</b> & co"
    assert "<p>&lt;b&gt;Ann&lt;/b&gt; &amp; co</p>" in found.html
    assert found.text == "Hi <b>Ann</b> & co"


def test_an_undeclared_variable_not_given_is_an_error_naming_it() -> None:
    """Strict undefined: a name neither given nor defaulted is refused, not rendered empty."""
    errors = refused(html="<p>{{ nobody }}</p>")
    assert list(errors) == ["html"]
    assert "nobody" in errors["html"]


def test_required_variables_missing_are_each_listed() -> None:
    """Every required variable not given is named under `variables.NAME`."""
    variables = [{"name": "a", "required": True}, {"name": "b", "required": True}]
    errors = refused({"b": None}, html="{{ a }}{{ b }}", variables=variables)
    assert errors == {
        "variables.a": "is required by the template",
        "variables.b": "is required by the template",
    }


def test_defaults_fill_what_a_send_leaves_out() -> None:
    """A declared default is used when absent and a given value wins over it."""
    variables = [{"name": "who", "default": "there"}]
    assert render(text="Hi {{ who }}", variables=variables).text == "Hi there"
    assert render({"who": "Ann"}, text="Hi {{ who }}", variables=variables).text == "Hi Ann"


def test_the_layout_wraps_the_html_body_and_css_is_inlined() -> None:
    """The body goes where the layout says {{ content }}, unescaped, and style rules become
    style attributes; the text part is made from the HTML."""
    layout = (
        "<html><head><style>.x { color: red; }</style></head>"
        "<body><header>{{ shop }}</header>{{ content }}</body></html>"
    )
    found = render(
        {"shop": "Acme", "name": "Ann"}, html='<p class="x">Hi {{ name }}</p>', layout=layout
    )
    assert '<header>Acme</header><p class="x" style="color: red;">Hi Ann</p>' in found.html
    assert "<style>" not in found.html
    assert "Acme" in found.text
    assert "Hi Ann" in found.text


def test_a_given_text_part_is_kept_beside_the_html() -> None:
    """With both parts given, the text part is the template's, not one made from the HTML."""
    assert render(html="<p>HTML</p>", text="Plain").text == "Plain"


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("{% for i in (1..100000000) %}x{% endfor %}", "loop iteration limit"),
        (
            "{% for i in (1..1000) %}{% for j in (1..1000) %}x{% endfor %}{% endfor %}",
            "loop iteration limit",
        ),
        (
            "{% capture a %}" + "x" * 500 + "{% endcapture %}"
            "{% for i in (1..9000) %}{{ a }}{{ a }}{% endfor %}",
            "output stream limit",
        ),
        (
            "{% assign a = 'xxxxxxxxxx' %}{% for i in (1..60) %}"
            "{% assign a = a | append: a %}{% endfor %}{{ a }}",
            "local namespace limit",
        ),
        ("{% if true %}" * 500 + "x" + "{% endif %}" * 500, "nesting limit"),
        ("{{ a" + "[a" * 20000 + "]" * 20000 + " }}", ""),
        ("{% include 'secrets' %}", "no other templates"),
    ],
    ids=[
        "huge-loop",
        "nested-loops",
        "output-bomb",
        "doubling-string",
        "deep-blocks",
        "deep-expression",
        "include",
    ],
)
def test_hostile_templates_are_refused_cleanly_and_quickly(html: str, reason: str) -> None:
    """Loops, output, memory and nesting are capped: refused with the part named, in time."""
    errors = refused(html=html)
    assert list(errors) == ["html"]
    assert reason in errors["html"]


@pytest.mark.parametrize(
    "html", ["{{ name.__class__ }}", "{{ name.__class__.__mro__ }}", "{{ name.upper }}"]
)
def test_python_attributes_are_out_of_reach(html: str) -> None:
    """A template reaches mapping keys and list items only: attribute access is undefined."""
    errors = refused({"name": "Ann"}, html=html)
    assert "undefined" in errors["html"]


def test_definitions_that_do_not_parse_name_each_part() -> None:
    """Liquid syntax errors are found when a definition is checked, per part."""
    definition = parse_definition({"name": "t", "subject": "{% if %}", "html": "{{ x | }}"})
    with pytest.raises(InvalidEmailError) as refusal:
        Renderer().parse(definition)
    assert set(refusal.value.errors) == {"subject", "html"}


def test_remote_and_local_stylesheets_are_never_loaded(tmp_path: Any) -> None:
    """A <link> to a stylesheet is dropped, not fetched or read."""
    sheet = tmp_path / "x.css"
    sheet.write_text("p { color: red; }")
    html = (
        f'<html><head><link rel="stylesheet" href="file://{sheet}">'
        '<link rel="stylesheet" href="http://127.0.0.1:9/x.css"></head><body><p>x</p></body></html>'
    )
    found = render(html=html)
    assert "color" not in found.html
    assert "<p>x</p>" in found.html

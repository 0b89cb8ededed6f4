"""Templates: stored per tenant, rendered with python-liquid (docs/templates.md).

A template comes from a tenant, not from us, so rendering treats it as hostile: python-liquid
never reaches Python attributes (only mapping keys and list items), variables that are not
there are errors rather than empty text, HTML output is escaped unless the layout places the
body, and loops, output and nesting are capped so one template cannot hang or exhaust the
process. Every failure is an InvalidEmailError naming the part (or the variable) at fault.
"""

import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import css_inline
import msgspec
from liquid import BoundTemplate, Environment, StrictUndefined
from liquid.exceptions import LiquidError, UndefinedError
from liquid.exceptions import TemplateNotFoundError as MissingPartialError
from markupsafe import Markup

from postroom.domain.errors import InvalidEmailError
from postroom.domain.ids import new_id
from postroom.domain.templates import CONTENT, REPLACED, TemplateDefinition, parse_definition
from postroom.ports.clock import Clock
from postroom.ports.templates import (
    StoredTemplate,
    TemplateStore,
    TemplateSummary,
    TemplateVersion,
)
from postroom.services.deliver import text_alternative

# Loop iterations per render, nested loops multiplied: far past any real email, and a few
# milliseconds of work at most.
MAX_LOOP_ITERATIONS = 10_000
# Characters one part may render to; a rendered email is stored and sent whole.
MAX_OUTPUT_CHARS = 1_000_000
# Bytes of values a template may build with assign/capture (doubling a string in a loop).
MAX_LOCAL_BYTES = 1_000_000
MAX_CONTEXT_DEPTH = 10
MAX_BLOCK_NESTING = 30
_CACHED = 512  # parsed versions kept; a version never changes, so entries never go stale
MAX_PAGE = 500  # templates in one page of the list


class TemplateExistsError(Exception):
    """The tenant already has a template of that name."""


class TemplateNotFoundError(Exception):
    """The tenant has no template of that name."""


class _Limited(Environment):
    context_depth_limit: ClassVar[int] = MAX_CONTEXT_DEPTH
    block_nesting_limit: ClassVar[int] = MAX_BLOCK_NESTING
    loop_iteration_limit: ClassVar[int | None] = MAX_LOOP_ITERATIONS
    local_namespace_limit: ClassVar[int | None] = MAX_LOCAL_BYTES
    output_stream_limit: ClassVar[int | None] = MAX_OUTPUT_CHARS


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    html: str
    text: str


@dataclass(frozen=True, slots=True)
class Parsed:
    subject: BoundTemplate
    html: BoundTemplate
    text: BoundTemplate
    layout: BoundTemplate | None


class Renderer:
    """Parses and renders definitions; parsed stored versions are cached by (id, version)."""

    def __init__(self) -> None:
        self._html = _Limited(undefined=StrictUndefined, autoescape=True)
        self._plain = _Limited(undefined=StrictUndefined)
        # No remote or local stylesheets: a template must not make us fetch or read anything.
        self._inliner = css_inline.CSSInliner(load_remote_stylesheets=False)
        self._parsed: OrderedDict[tuple[str, int], Parsed] = OrderedDict()

    def parse(self, definition: TemplateDefinition) -> Parsed:
        """Every part parsed; InvalidEmailError naming each part that does not parse."""
        errors: dict[str, str] = {}

        def one(part: str, source: str, env: Environment) -> BoundTemplate:
            try:
                return env.from_string(source)
            except (LiquidError, RecursionError) as error:
                errors[part] = _reason(error)
                return env.from_string("")

        parsed = Parsed(
            one("subject", definition.subject, self._plain),
            one("html", definition.html, self._html),
            one("text", definition.text, self._plain),
            one("layout", definition.layout, self._html) if definition.layout else None,
        )
        if errors:
            raise InvalidEmailError(errors)
        return parsed

    def render(
        self, definition: TemplateDefinition, given: Any, key: tuple[str, int] | None = None
    ) -> Rendered:
        """The email parts for a send's variables; InvalidEmailError listing missing variables,
        or naming the part whose rendering failed."""
        values = definition.values(given)
        parsed = self._cached(definition, key)
        subject = _render("subject", parsed.subject, values)
        text = _render("text", parsed.text, values)
        html = _render("html", parsed.html, values)
        if parsed.layout is not None:
            html = _render("layout", parsed.layout, {**values, CONTENT: _escaped(html)})
        if html:
            html = self._inline(html)
            text = text or text_alternative(html)
        return Rendered(subject, html, text)

    def _cached(self, definition: TemplateDefinition, key: tuple[str, int] | None) -> Parsed:
        if key is None:
            return self.parse(definition)
        found = self._parsed.get(key)
        if found is None:
            found = self._parsed[key] = self.parse(definition)
            if len(self._parsed) > _CACHED:
                self._parsed.popitem(last=False)
        return found

    def _inline(self, html: str) -> str:
        try:
            return str(self._inliner.inline(html))
        except ValueError as error:
            raise InvalidEmailError({"html": f"CSS could not be inlined: {error}"}) from None


def _escaped(html: str) -> Markup:
    """The HTML body, already rendered with every value escaped, marked as safe for the layout
    to place as it is."""
    return Markup(html)  # noqa: S704 - escaping happened while rendering it


def _render(part: str, template: BoundTemplate, values: dict[str, Any]) -> str:
    try:
        return template.render(**values)
    except UndefinedError as error:
        raise InvalidEmailError({part: f"{_reason(error)}: declare it or give it"}) from None
    except (LiquidError, RecursionError) as error:
        raise InvalidEmailError({part: _reason(error)}) from None


def _reason(error: BaseException) -> str:
    """The first line of Liquid's message (the rest repeats the source); capped, since it may
    quote the template."""
    if isinstance(error, RecursionError):
        return "nested too deeply"
    if isinstance(error, MissingPartialError):
        return "include and render have no other templates to load"
    message = getattr(error, "message", None) or str(error)
    return str(message).splitlines()[0][:200]


_encode = msgspec.json.encode
_decode = msgspec.json.Decoder(TemplateDefinition).decode


@dataclass(frozen=True, slots=True)
class TemplateView:
    """A template as the API shows it: the newest version's definition and which is current."""

    stored: StoredTemplate
    latest: TemplateDefinition


@dataclass(frozen=True, slots=True)
class Applied:
    """A templated email request, rendered: the request with the parts filled in."""

    data: dict[str, Any]
    template_id: str
    version: int


@dataclass(frozen=True, slots=True)
class Published:
    """A template's published version as a send renders it."""

    template_id: str
    version: int
    definition: TemplateDefinition


# The templates a batch has read so far, by name (None: no published template of that name).
# A batch is one snapshot: a template published while it is being prepared applies to the next.
SeenTemplates = dict[str, Published | None]


class Templates:
    """The use cases of the templates API, the CLI and templated sends."""

    def __init__(
        self,
        store: TemplateStore,
        clock: Clock,
        renderer: Renderer | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._store = store
        self._clock = clock
        self._renderer = renderer or Renderer()
        self._random_bytes = random_bytes

    async def create(self, tenant: str, data: Any) -> tuple[str, int]:
        """Store a new template's version 1 as a draft: (id, 1). InvalidEmailError (nothing
        stored) or TemplateExistsError."""
        definition = self._checked(data)
        now = self._clock.now()
        template_id = new_id(int(now * 1000), self._random_bytes(10))
        if not await self._store.create(
            tenant, template_id, definition.name, _encode(definition).decode(), now
        ):
            raise TemplateExistsError(definition.name)
        return template_id, 1

    async def update(self, tenant: str, name: str, data: Any) -> tuple[str, int]:
        """Store an edit as the next draft version: (id, version). The published version stays
        what sends use. InvalidEmailError or TemplateNotFoundError."""
        definition = self._checked(data, name)
        text = _encode(definition).decode()
        version = await self._store.add_version(tenant, name, text, self._clock.now())
        if version is None:
            raise TemplateNotFoundError(name)
        return (await self._found(tenant, name)).id, version

    async def publish(self, tenant: str, name: str) -> tuple[str, int]:
        """Make the newest version current: (id, version). TemplateNotFoundError."""
        version = await self._store.publish(tenant, name)
        if version is None:
            raise TemplateNotFoundError(name)
        return (await self._found(tenant, name)).id, version

    async def get(self, tenant: str, name: str) -> TemplateView:
        stored = await self._found(tenant, name)
        return TemplateView(stored, _decode(stored.latest.definition))

    async def page(
        self, tenant: str, cursor: str, limit: int
    ) -> tuple[list[TemplateSummary], str | None]:
        """Up to `limit` (at most MAX_PAGE) of the tenant's templates by name, after `cursor`
        ("" for the first page), and the cursor of the next page (None at the end); no
        definitions. ValueError for a cursor the list did not give."""
        return await self._store.page(tenant, cursor, max(1, min(limit, MAX_PAGE)))

    async def delete(self, tenant: str, name: str) -> None:
        if not await self._store.delete(tenant, name):
            raise TemplateNotFoundError(name)

    async def preview(
        self, tenant: str, name: str, given: Any, published: bool = False
    ) -> Rendered:
        """The newest version (or the published one) rendered with `given`, nothing stored."""
        stored = await self._found(tenant, name)
        version = stored.current if published else stored.latest
        if version is None:
            raise InvalidEmailError({"template": "has no published version yet"})
        return self._render(stored, version, given)

    async def apply(
        self, tenant: str, data: dict[str, Any], seen: SeenTemplates | None = None
    ) -> Applied:
        """An email request naming a template, with the published version's rendering in place
        of the template and its variables. InvalidEmailError for anything amiss. `seen` holds
        the templates read so far by one batch: each is read and decoded once per batch."""
        name = data.get("template")
        given = [field for field in REPLACED if data.get(field)]
        if given:
            raise InvalidEmailError({given[0]: "give a template or the email's parts, not both"})
        published = await self._published(tenant, name, seen) if isinstance(name, str) else None
        if published is None:
            raise InvalidEmailError({"template": "no published template of that name"})
        key = (published.template_id, published.version)
        rendered = self._renderer.render(published.definition, data.get("variables"), key)
        rest = {k: v for k, v in data.items() if k not in ("template", "variables")}
        parts = {"subject": rendered.subject, "html": rendered.html, "text": rendered.text}
        return Applied({**rest, **parts}, *key)

    async def _published(
        self, tenant: str, name: str, seen: SeenTemplates | None
    ) -> Published | None:
        """The template's published version, decoded; None when there is none."""
        if seen is not None and name in seen:
            return seen[name]
        stored = await self._store.find(tenant, name)
        found = None
        if stored is not None and stored.current is not None:
            current = stored.current
            found = Published(stored.id, current.version, _decode(current.definition))
        if seen is not None:
            seen[name] = found
        return found

    def _render(self, stored: StoredTemplate, version: TemplateVersion, given: Any) -> Rendered:
        definition = _decode(version.definition)
        return self._renderer.render(definition, given, (stored.id, version.version))

    def _checked(self, data: Any, name: str | None = None) -> TemplateDefinition:
        """A definition whose every part parses; InvalidEmailError naming each that does not."""
        definition = parse_definition(data, name)
        self._renderer.parse(definition)
        return definition

    async def _found(self, tenant: str, name: str) -> StoredTemplate:
        stored = await self._store.find(tenant, name)
        if stored is None:
            raise TemplateNotFoundError(name)
        return stored

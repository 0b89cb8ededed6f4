"""quick_init: a frozen dataclass built by one assignment of its dict behaves as the dataclass's
own __init__ would have built it."""

import dataclasses
from dataclasses import FrozenInstanceError, InitVar, dataclass, field, fields, replace

import pytest

from postroom.domain.message import Address, Email
from postroom.domain.rules import Submission
from postroom.domain.values import quick_init
from postroom.ports.queue import NewEmail, PutResult
from postroom.services.submit import Submitted

# With an instance dict (the first three) and with slots.
QUICK = [Email, Address, NewEmail, PutResult, Submitted, Submission]


def twin(cls: type) -> type:
    """The same fields as `cls` in a frozen dataclass with the dataclass's own __init__."""
    namespace = {"__annotations__": {f.name: f.type for f in fields(cls)}}
    namespace |= {f.name: f.default for f in fields(cls) if f.default is not dataclasses.MISSING}
    return dataclass(frozen=True)(type(f"Own{cls.__name__}", (), namespace))


def values(cls: type) -> list[object]:
    """A distinct value for each field, none equal to its default."""
    return [f"{f.name}-value" for f in fields(cls)]


@pytest.mark.parametrize("cls", QUICK)
def test_positions_keywords_and_defaults_set_what_the_dataclass_init_sets(cls: type) -> None:
    own = twin(cls)
    given = values(cls)
    names = [f.name for f in fields(cls)]
    required = sum(1 for f in fields(cls) if f.default is dataclasses.MISSING)
    calls = [
        (given, {}),
        ([], dict(zip(names, given, strict=True))),
        (given[:required], {}),  # the defaults
        (given[:required], dict(zip(names[required:], given[required:], strict=True))),
    ]
    for args, keywords in calls:
        quick, expected = cls(*args, **keywords), own(*args, **keywords)
        assert dataclasses.asdict(quick) == dataclasses.asdict(expected)


@pytest.mark.parametrize("cls", QUICK)
def test_wrong_arguments_are_refused_as_the_dataclass_init_refuses_them(cls: type) -> None:
    given = values(cls)
    with pytest.raises(TypeError):
        cls()
    with pytest.raises(TypeError):
        cls(*given, "one too many")
    with pytest.raises(TypeError):
        cls(*given, unknown=1)


def test_the_email_stays_frozen_comparable_hashable_and_replaceable() -> None:
    email = Email(Address("ann@example.org"), (Address("bob@example.org"),), subject="Hi")
    same = Email(Address("ann@example.org"), (Address("bob@example.org"),), subject="Hi")
    assert email == same
    assert hash(email) == hash(same)
    with pytest.raises(FrozenInstanceError):
        email.subject = "changed"  # type: ignore[misc]
    changed = replace(email, subject="Hello")
    assert (changed.subject, changed.to) == ("Hello", email.to)
    assert email.subject == "Hi"
    assert repr(email).startswith("Email(sender=Address(email='ann@example.org'")


def test_classes_whose_init_does_more_are_refused() -> None:
    @dataclass
    class Mutable:
        a: int

    @dataclass(frozen=True)
    class Factory:
        a: list[int] = field(default_factory=list)

    @dataclass(frozen=True)
    class KeywordOnly:
        a: int = field(kw_only=True)

    @dataclass(frozen=True)
    class NotInInit:
        a: int = field(default=0, init=False)

    @dataclass(frozen=True)
    class WithInitVar:
        a: int
        b: InitVar[int]

    @dataclass(frozen=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (Mutable, Factory, KeywordOnly, NotInInit, WithInitVar, Checked, int):
        with pytest.raises(TypeError):
            quick_init(cls)

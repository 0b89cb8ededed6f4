"""Loading an adapter named "module:Class" only when its URL scheme is used."""

from importlib import import_module
from typing import Any


def load_class(target: str, extra: str | None) -> Any:
    """The class `target` names; ImportError's message says which pip extra brings its driver."""
    module_name, _, class_name = target.partition(":")
    try:
        module = import_module(module_name)
    except ImportError as error:
        hint = f"; run: pip install 'postroom[{extra}]'" if extra else ""
        raise ImportError(f"cannot load {module_name} ({error.name}){hint}") from None
    return getattr(module, class_name)

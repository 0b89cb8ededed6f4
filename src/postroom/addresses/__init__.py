"""Address parsers: the full parser behind the domain's fast path, by the library it uses."""

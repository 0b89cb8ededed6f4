"""The HTTP API: create_app(container) builds the ASGI app; nothing here reads configuration."""

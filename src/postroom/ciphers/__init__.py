"""Ciphers for content at rest: AES-256-GCM when keys are configured, none otherwise."""

"""The composition root's opening half: settings checked against the adapters that will use
them, and storage, cipher, providers and templates opened from them (the rest of bootstrap
builds the app and the worker on these)."""

import asyncio
import os
import tempfile
from dataclasses import dataclass

from postroom import providers as provider_registry
from postroom import storage as engines
from postroom._lazy import load_class
from postroom.ciphers.aesgcm import AesGcmCipher, parse_keys
from postroom.clocks.system import SystemClock
from postroom.domain.errors import CipherError, StorageFullError, StorageUnavailableError
from postroom.domain.keys import ADMIN
from postroom.logs import get_logger
from postroom.outbound.guard import parse_cidrs
from postroom.ports.cipher import Cipher
from postroom.ports.provider import Probe, Provider
from postroom.ports.storage import Storage
from postroom.services.content import NoCipher
from postroom.services.operations import create_key
from postroom.services.templates import Templates
from postroom.settings import Settings

log = get_logger("bootstrap")


class ConfigError(ValueError):
    """A setting is well-formed but cannot be used; one line naming the variable."""


def check_settings(settings: Settings) -> None:
    """Each URL and key against the adapter that will open it, before anything is opened:
    ConfigError naming the variable."""
    for env, url, check in (
        ("POSTROOM_DATABASE_URL", settings.database_url, engines.check_url),
        ("POSTROOM_QUEUE_URL", settings.queue_url, engines.check_queue_url),
    ):
        if url:
            try:
                check(url)
            except engines.StorageConfigError as error:
                raise ConfigError(f"{env}: {error}") from None
    if settings.encryption_keys:
        try:
            parse_keys(settings.encryption_keys)
        except ValueError as error:
            raise ConfigError(f"POSTROOM_ENCRYPTION_KEYS: {error}") from None
    for url in settings.providers:
        try:
            provider_registry.check_url(url)
        except provider_registry.ProviderConfigError as error:
            raise ConfigError(f"POSTROOM_PROVIDERS: {error}") from None
    try:
        parse_cidrs(settings.webhook_allow_cidrs)
    except ValueError as error:
        raise ConfigError(f"POSTROOM_WEBHOOK_ALLOW_CIDRS: {error}") from None
    if settings.smtp_port or settings.smtp_tls_port:
        try:
            load_class("postroom.bootstrap.smtp:attach_smtp", "smtp")  # aiosmtpd is an extra
        except ImportError as error:
            raise ConfigError(f"POSTROOM_SMTP_PORT: {error}") from None


def open_storage(settings: Settings) -> Storage:
    """The store at POSTROOM_DATABASE_URL, and the queue apart from it when there is one."""
    try:
        store = engines.open_storage(settings.database_url, SystemClock())
    except engines.StorageConfigError as error:
        raise ConfigError(f"POSTROOM_DATABASE_URL: {error}") from None
    if not settings.queue_url or settings.queue_url == settings.database_url:
        return store
    if engines.scheme_of(settings.queue_url) not in engines.QUEUES:
        raise ConfigError(
            "POSTROOM_QUEUE_URL: a database as the queue must be POSTROOM_DATABASE_URL itself"
        )
    try:
        return engines.open_queue(settings.queue_url, store, SystemClock())
    except engines.StorageConfigError as error:
        raise ConfigError(f"POSTROOM_QUEUE_URL: {error}") from None


class StorageStartError(Exception):
    """Storage cannot work at start-up: one line naming the variable, the file or host:port,
    and the cause. Start-up stops (exit 1); an outage after start is a 503 instead."""


async def check_storage(
    settings: Settings, storage: Storage, queue: bool = True, starting: bool = False
) -> None:
    """Prove the store works before anything is created in it: StorageStartError if not. With
    `queue`, a queue apart from it (SQS) must answer too; start-up leaves that out, so an API
    can run before `postroom sqs create-queues` (it answers 503 until the queue exists). A
    store full to its size cap is a StorageStartError for `postroom check`, but `starting`
    goes on: a full store still delivers, and /readyz says "full"."""
    path = storage.file
    if path is not None and (problem := _sqlite_problem(path)) is not None:
        raise StorageStartError(f"POSTROOM_DATABASE_URL: cannot use {path}: {problem}")
    try:
        await storage.lifecycle.probe()  # PostgreSQL: one connection, its real cause
        await storage.lifecycle.ping()
    except StorageFullError as error:
        if not starting:
            raise StorageStartError(f"POSTROOM_DATABASE_URL: {error}") from None
        log.warning("storage.full", extra={"fields": {"intake": "refused"}})
    except StorageUnavailableError as error:
        where = f"cannot use {path}: " if path else ""
        raise StorageStartError(f"POSTROOM_DATABASE_URL: {where}{error}") from None
    if queue and storage.queue_lifecycle is not None:
        try:
            await storage.queue_lifecycle.ping()
        except StorageUnavailableError as error:
            raise StorageStartError(f"POSTROOM_QUEUE_URL: {error}") from None


@dataclass(frozen=True)
class Started:
    first_key: str | None  # the token of the key just created, to print once
    sqlite_file: str | None  # the database file, for the banner


async def prepare_start(settings: Settings, first_key: bool) -> Started:
    """Everything checked before anything is created: provider URLs (parsed, nothing sent),
    storage (opened and written), stored content against the configured keys (ConfigError,
    StorageStartError). Only then, with `first_key`, a store without API keys gets one."""
    for provider in open_providers(settings):
        await provider.close()
    storage = open_storage(settings)
    try:
        await check_storage(settings, storage, queue=False, starting=True)
        await check_keys_open_stored_content(storage, open_cipher(settings))
        token = None
        if first_key and not settings.insecure_no_auth and not await storage.keys.list_keys():
            # The operator's own key, printed once: it may do everything (`admin`).
            token = await create_key(storage, "default", scopes=frozenset({ADMIN}))
        return Started(token, storage.file)
    finally:
        await storage.close()


def _sqlite_problem(path: str) -> str | None:
    """Why SQLite could not write at `path`, in words; None when it can. SQLite itself only
    says "unable to open database file", whatever the reason."""
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        return f"directory {folder} does not exist"
    if os.path.isdir(path):
        return "it is a directory"
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o644))  # as SQLite would
    except OSError as error:
        return f"cannot write the file ({error.strerror})"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return (
            f"directory {folder} is not writable ({error.strerror}); "
            "SQLite keeps its -wal and -shm files beside the database"
        )
    return None


def open_templates(settings: Settings) -> tuple[Templates, Storage]:
    """The templates service over the configured storage, for operator commands; the caller
    closes the storage."""
    storage = open_storage(settings)
    if storage.templates is None:  # every store keeps them; a new engine might not yet
        raise ConfigError("POSTROOM_DATABASE_URL: this storage keeps no templates")
    return Templates(storage.templates, SystemClock()), storage


def open_cipher(settings: Settings) -> Cipher:
    if not settings.encryption_keys:
        return NoCipher()
    return AesGcmCipher(parse_keys(settings.encryption_keys))


async def check_keys_open_stored_content(storage: Storage, cipher: Cipher) -> None:
    """Refuse to start when stored content does not open with the configured keys: a wrong or
    missing key is a start-up error, not garbage sent to a provider later."""
    sample = await storage.sealed.sample_payload()
    if sample is None:
        return
    email_id, payload = sample
    try:
        cipher.open(payload, email_id.encode())
    except CipherError as error:
        raise ConfigError(
            f"POSTROOM_ENCRYPTION_KEYS: cannot open stored content: {error}"
        ) from None


def open_providers(settings: Settings) -> list[Provider]:
    try:
        return [provider_registry.open_provider(url) for url in settings.providers]
    except provider_registry.ProviderConfigError as error:
        raise ConfigError(f"POSTROOM_PROVIDERS: {error}") from None


async def probe_providers(settings: Settings) -> list[tuple[str, str, Probe]]:
    """Each configured provider's read-only check (nothing is sent), in the configured order:
    (name, masked URL, result). A probe that raises counts as the provider being down."""
    from postroom.logs import mask_url

    def result(found: Probe | BaseException) -> Probe:
        return found if isinstance(found, Probe) else Probe(False, "down", type(found).__name__)

    providers = open_providers(settings)
    try:
        found = await asyncio.gather(*(p.probe() for p in providers), return_exceptions=True)
    finally:
        for provider in providers:
            await provider.close()
    urls = settings.providers
    return [
        (p.name, mask_url(url), result(r)) for p, url, r in zip(providers, urls, found, strict=True)
    ]

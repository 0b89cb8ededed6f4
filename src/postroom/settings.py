"""Configuration, read once from the environment at the edge and passed down typed."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields


class SettingsError(ValueError):
    """One line naming the variable and what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Option:
    env: str
    help: str
    metavar: str


@dataclass(frozen=True)
class Settings:
    database_url: str = field(
        default="sqlite:///./postroom.db",
        metadata={
            "env": "POSTROOM_DATABASE_URL",
            "help": "where emails and their states are stored",
        },
    )
    queue_url: str = field(
        default="",
        metadata={
            "env": "POSTROOM_QUEUE_URL",
            "help": "the queue (sqs://REGION/QUEUE_NAME); empty means the database",
        },
    )
    providers: tuple[str, ...] = field(
        default=("outbox://./outbox",),
        metadata={
            "env": "POSTROOM_PROVIDERS",
            "help": "provider URLs, comma-separated, in priority order",
        },
    )
    host: str = field(
        default="127.0.0.1", metadata={"env": "POSTROOM_HOST", "help": "address to listen on"}
    )
    port: int = field(default=8080, metadata={"env": "POSTROOM_PORT", "help": "port to listen on"})
    processes: int = field(
        default=1,
        metadata={"env": "POSTROOM_PROCESSES", "help": "API server processes sharing the port"},
    )
    tls_cert: str = field(
        default="",
        metadata={"env": "POSTROOM_TLS_CERT", "help": "PEM certificate chain: serve HTTPS"},
    )
    tls_key: str = field(
        default="", metadata={"env": "POSTROOM_TLS_KEY", "help": "PEM private key for --tls-cert"}
    )
    max_connections: int = field(
        default=1000,
        metadata={
            "env": "POSTROOM_MAX_CONNECTIONS",
            "help": "open connections per process before 503",
        },
    )
    body_timeout: int = field(
        default=30,
        metadata={
            "env": "POSTROOM_BODY_TIMEOUT",
            "help": "seconds a client may take to send its body",
        },
    )
    header_timeout: int = field(
        default=10,
        metadata={
            "env": "POSTROOM_HEADER_TIMEOUT",
            "help": "seconds a client may take to send a request's headers",
        },
    )
    keepalive_timeout: int = field(
        default=5,
        metadata={
            "env": "POSTROOM_KEEPALIVE_TIMEOUT",
            "help": "seconds an idle kept-alive connection stays open",
        },
    )
    max_connections_per_client: int = field(
        default=100,
        metadata={
            "env": "POSTROOM_MAX_CONNECTIONS_PER_CLIENT",
            "help": "open connections per client address per process (0: no cap)",
        },
    )
    max_body_bytes: int = field(
        default=10 * 1024 * 1024,
        metadata={"env": "POSTROOM_MAX_BODY_BYTES", "help": "largest request body accepted"},
    )
    smtp_port: int = field(
        default=0,
        metadata={
            "env": "POSTROOM_SMTP_PORT",
            "help": "SMTP submission port, STARTTLS with --tls-cert (0: off; serve, smtp)",
        },
    )
    smtp_tls_port: int = field(
        default=0,
        metadata={
            "env": "POSTROOM_SMTP_TLS_PORT",
            "help": "SMTP submission port with implicit TLS; needs --tls-cert (0: off)",
        },
    )
    smtp_idle_timeout: int = field(
        default=300,
        metadata={
            "env": "POSTROOM_SMTP_IDLE_TIMEOUT",
            "help": "seconds an SMTP client may wait between commands",
        },
    )
    smtp_data_timeout: int = field(
        default=600,
        metadata={
            "env": "POSTROOM_SMTP_DATA_TIMEOUT",
            "help": "seconds an SMTP client may take to send a whole message",
        },
    )
    concurrency: int = field(
        default=32, metadata={"env": "POSTROOM_CONCURRENCY", "help": "sends in flight per worker"}
    )
    max_attempts: int = field(
        default=25,
        metadata={"env": "POSTROOM_MAX_ATTEMPTS", "help": "attempts before dead-lettering"},
    )
    visibility_timeout: int = field(
        default=8,
        metadata={
            "env": "POSTROOM_VISIBILITY_TIMEOUT",
            "help": "seconds a dead worker's leases stay hidden (live ones are kept)",
        },
    )
    metrics_port: int = field(
        default=0,
        metadata={
            "env": "POSTROOM_METRICS_PORT",
            "help": "worker-only: serve /metrics here (0: off)",
        },
    )
    rate_limit: int = field(
        default=100,
        metadata={"env": "POSTROOM_RATE_LIMIT", "help": "emails per second per API key (0: off)"},
    )
    daily_quota: int = field(
        default=100_000,
        metadata={"env": "POSTROOM_DAILY_QUOTA", "help": "emails per UTC day per API key (0: off)"},
    )
    retention_days: int = field(
        default=30,
        metadata={
            "env": "POSTROOM_RETENTION_DAYS",
            "help": "purge content this long after an email ends",
        },
    )
    encryption_keys: str = field(
        default="",
        repr=False,  # key material never reaches a repr, a log or a traceback
        metadata={
            "env": "POSTROOM_ENCRYPTION_KEYS",
            "help": "ID:BASE64KEY,... to encrypt content at rest (the first encrypts)",
        },
    )
    address_key: str = field(
        default="",
        repr=False,
        metadata={
            "env": "POSTROOM_ADDRESS_KEY",
            "help": "secret for the keyed hash suppressions and events look addresses up by",
        },
    )
    webhook_allow_cidrs: str = field(
        default="",
        metadata={
            "env": "POSTROOM_WEBHOOK_ALLOW_CIDRS",
            "help": "networks webhooks may reach beside the public internet (plain http too)",
        },
    )
    webhook_schedule: str = field(
        default="0,5,300,1800,7200,18000,36000,36000",
        metadata={
            "env": "POSTROOM_WEBHOOK_SCHEDULE",
            "help": "seconds before each webhook attempt, comma-separated",
        },
    )
    webhook_timeout: int = field(
        default=15,
        metadata={
            "env": "POSTROOM_WEBHOOK_TIMEOUT",
            "help": "seconds a webhook endpoint has to answer",
        },
    )
    webhook_concurrency: int = field(
        default=100,
        metadata={
            "env": "POSTROOM_WEBHOOK_CONCURRENCY",
            "help": "webhook requests in flight per worker process",
        },
    )
    insecure_no_auth: bool = field(
        default=False,
        metadata={
            "env": "POSTROOM_INSECURE_NO_AUTH",
            "help": "serve without API keys (development only)",
        },
    )
    log_level: str = field(
        default="info",
        metadata={"env": "POSTROOM_LOG_LEVEL", "help": "debug, info, warning or error"},
    )
    log_format: str = field(
        default="auto",
        metadata={
            "env": "POSTROOM_LOG_FORMAT",
            "help": "text or json (auto: text on a terminal, JSON lines otherwise)",
        },
    )

    @property
    def effective_queue_url(self) -> str:
        return self.queue_url or self.database_url


def options() -> dict[str, Option]:
    """Each setting's environment variable and help text, for the CLI."""
    return {
        f.name: Option(f.metadata["env"], f.metadata["help"], _metavar(f.name))
        for f in fields(Settings)
    }


def _metavar(name: str) -> str:
    """The placeholder --help shows: URL, PORT, PATH, SECONDS, N, or the name itself."""
    for ending, shown in (
        ("_url", "URL"),
        ("port", "PORT"),
        ("_timeout", "SECONDS"),
        ("tls_", "PATH"),
        ("_days", "DAYS"),
    ):
        if name.endswith(ending) or name.startswith(ending):
            return shown
    return _METAVARS.get(name, "N")


_METAVARS = {
    "providers": "URLS",
    "host": "HOST",
    "encryption_keys": "KEYS",
    "address_key": "SECRET",
    "webhook_allow_cidrs": "CIDRS",
    "webhook_schedule": "SECONDS",
    "log_level": "LEVEL",
    "log_format": "FORMAT",
}


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Settings from POSTROOM_* variables; SettingsError (one line) for any bad value."""
    values: dict[str, object] = {}
    for f in fields(Settings):
        raw = environ.get(f.metadata["env"])
        if raw is not None and raw.strip() != "":
            values[f.name] = _convert(f.name, f.metadata["env"], raw.strip())
    settings = Settings(**values)  # type: ignore[arg-type]
    _check_urls(settings)
    return settings


def _convert(name: str, env: str, raw: str) -> object:
    if name == "insecure_no_auth":
        if raw.lower() not in ("1", "true", "yes", "0", "false", "no"):
            raise SettingsError(f"{env}: expected true or false")
        return raw.lower() in ("1", "true", "yes")
    if name == "providers":
        return _provider_list(env, raw)
    if name in _INTEGERS:
        try:
            number = int(raw)
        except ValueError:
            raise SettingsError(f"{env}: expected a whole number, got {raw!r}") from None
        if number < _INTEGERS[name]:
            raise SettingsError(f"{env}: must be at least {_INTEGERS[name]}")
        return number
    if name == "webhook_schedule":
        return _schedule(env, raw)
    if name == "log_level" and raw.lower() not in ("debug", "info", "warning", "error"):
        raise SettingsError(f"{env}: expected debug, info, warning or error")
    if name == "log_format":
        if raw.lower() not in ("auto", "text", "json"):
            raise SettingsError(f"{env}: expected text, json or auto")
        return raw.lower()
    return raw


def _schedule(env: str, raw: str) -> str:
    """Seconds, comma-separated: at least one attempt, none waiting a negative time."""
    try:
        delays = [float(part) for part in raw.split(",")]
    except ValueError:
        raise SettingsError(f"{env}: expected seconds, comma-separated") from None
    if not delays or any(delay < 0 or delay != delay for delay in delays):
        raise SettingsError(f"{env}: expected seconds, comma-separated, none negative")
    return raw


def schedule_of(settings: Settings) -> tuple[float, ...]:
    return tuple(float(part) for part in settings.webhook_schedule.split(","))


def _provider_list(env: str, raw: str) -> tuple[str, ...]:
    """Comma-separated URLs; whitespace around a comma is fine, inside a URL it is a typo
    (most often a space where a comma was meant), never a folder name with a space in it."""
    urls = tuple(part.strip() for part in raw.split(",") if part.strip())
    for url in urls:
        if any(char.isspace() for char in url):
            raise SettingsError(
                f"{env}: a provider URL holds a space; separate URLs with commas, not spaces"
            )
    return urls


_INTEGERS = {
    "port": 0,
    "processes": 1,
    "max_body_bytes": 1024,
    "concurrency": 1,
    "max_attempts": 1,
    "visibility_timeout": 2,
    "metrics_port": 0,
    "retention_days": 1,
    "rate_limit": 0,
    "max_connections": 1,
    "body_timeout": 1,
    "header_timeout": 1,
    "keepalive_timeout": 1,
    "max_connections_per_client": 0,
    "daily_quota": 0,
    "smtp_port": 0,
    "smtp_tls_port": 0,
    "smtp_idle_timeout": 1,
    "smtp_data_timeout": 1,
    "webhook_concurrency": 1,
    "webhook_timeout": 1,
}


def _check_urls(settings: Settings) -> None:
    """What can be checked without the adapters; bootstrap.check_settings checks the URLs and
    keys against the adapters that will open them."""
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise SettingsError("POSTROOM_TLS_CERT and POSTROOM_TLS_KEY: give both or neither")
    for env, path in (
        ("POSTROOM_TLS_CERT", settings.tls_cert),
        ("POSTROOM_TLS_KEY", settings.tls_key),
    ):
        if path and not os.path.isfile(path):
            raise SettingsError(f"{env}: no such file")
    if not settings.providers:
        raise SettingsError("POSTROOM_PROVIDERS: at least one provider URL is needed")
    if settings.smtp_tls_port and not settings.tls_cert:
        raise SettingsError(
            "POSTROOM_SMTP_TLS_PORT: needs a certificate (POSTROOM_TLS_CERT, POSTROOM_TLS_KEY)"
        )

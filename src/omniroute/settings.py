"""Settings: one frozen pydantic-settings class, read from ``OMNIROUTE_*`` variables.

:func:`load_settings` turns a validation failure into a :class:`ConfigurationError`
whose message names the variable, what is wrong with it and how to fix it, so
start-up stops with one clear line.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from omniroute.errors import ConfigurationError

ENV_PREFIX = "OMNIROUTE_"
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "password", "test", "xxx", ""})
PLACEHOLDER_WORDS = ("changeme", "placeholder", "replaceme", "yoursecret", "example", "dummy",
                     "notasecret", "insecure", "development", "sample")
MIN_SECRET_CHARS = 8


def placeholder_secret(value: str) -> bool:
    """True for a value that is not a real secret: a known placeholder in any case or
    punctuation (``Change_Me``, ``<your-secret>``), one containing a placeholder word,
    shorter than :data:`MIN_SECRET_CHARS`, or of at most two distinct characters."""
    plain = "".join(c for c in value.lower() if c.isalnum())
    return (value.strip().lower() in PLACEHOLDER_SECRETS or plain in
            {"".join(c for c in p if c.isalnum()) for p in PLACEHOLDER_SECRETS}
            or len(value.strip()) < MIN_SECRET_CHARS or len(set(plain)) <= 2
            or any(word in plain for word in PLACEHOLDER_WORDS))

Port = Annotated[int, Field(ge=1, le=65535)]


class Environment(StrEnum):
    """Where omniroute runs; production refuses placeholder secrets."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    """How log lines are rendered: ``auto`` is console on a terminal, else JSON."""

    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"


SECRET_FIELDS = (
    "twilio_auth_token",
    "meta_app_secret",
    "meta_verify_token",
    "telegram_secret_token",
    "line_channel_secret",
    "kakao_secret",
    "kakao_rest_api_key",
    "mailgun_signing_key",
    "webchat_identity_secret",
    "sendgrid_inbound_secret",
    "smtp_relay_password",
    "meta_access_token",
    "telegram_bot_token",
    "line_channel_access_token",
    "identity_key",
)


class Settings(BaseSettings):
    """Every setting of every omniroute process."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    workspace: str = Field(default="default", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    state_dir: Path = Field(
        default=Path(".omniroute"),
        description="Where local state lives: Kafka logs, embedded PostgreSQL data, pid files.",
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "omniroute",
        description="Downloaded artifacts (the Kafka jars), shared by every checkout.",
    )

    kafka_bootstrap: str = Field(default="127.0.0.1:9092", min_length=3)
    kafka_heap: str = Field(default="512m", pattern=r"^[0-9]+[mMgG]$")
    kafka_partitions: Annotated[int, Field(ge=1, le=1000)] = 6
    kafka_replication_factor: Annotated[int, Field(ge=1, le=10)] = 1
    topic_namespace: str = Field(
        default="",
        pattern=r"^([a-z0-9][a-z0-9_-]*\.)?$",
        description="Prefix for every topic name (`staging.`); empty in production.",
    )

    database_url: str | None = Field(
        default=None, description="A PostgreSQL server; unset means the embedded one."
    )
    database_connect_timeout: Annotated[float, Field(gt=0, le=300)] = 10.0

    ingress_port: Port = 8080
    gateway_port: Port = 8081
    smtp_port: Port = 2525
    metrics_port: Port = 9400
    prometheus_port: Port = Field(
        default=9090, description="Prometheus `omniroute up` runs when it is installed."
    )
    prometheus_scrape_interval: str = Field(default="15s", pattern=r"^[0-9]+(ms|s|m)$")
    monitor_interval_seconds: Annotated[float, Field(ge=0.5, le=3600)] = 10.0
    routing_config: Path | None = Field(
        default=None,
        description="Routing configuration (TOML) `omniroute router run` loads when given no "
        "--config; see deploy/routing.example.toml.",
    )
    automation_config: Path | None = Field(
        default=None,
        description="Automation configuration (TOML) the worker loads: triage lexicons, "
        "templates, survey, SLA policies and rules per workspace; see "
        "deploy/automation.example.toml.",
    )
    worker_engine: Literal["faust", "batch"] = Field(
        default="batch",
        description="What runs `omniroute worker`: the transactional batch engine (exactly "
        "once), or faust's agents (legacy, at least once; see docs/operations.md).",
    )
    instance_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9._-]{1,249}$",  # Kafka clients: Topic rules
        description="This process's static membership in its consumer group (Kafka's "
        "group.instance.id): restarted with the same id within the session timeout, it "
        "takes its partitions back without a rebalance. Unique among the running processes "
        "of one component; `omniroute up` sets one per process; unset: dynamic membership.",
    )
    stack_metrics_base: Port | None = Field(
        default=None,
        description="Set by `omniroute up` for its children: the metrics port of process 0 "
        "(each child's own OMNIROUTE_METRICS_PORT is this plus its index).",
    )
    bind_host: str = "127.0.0.1"
    public_base_url: str | None = None
    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    dedupe_window_seconds: Annotated[float, Field(gt=0, le=30 * 86400)] = Field(
        default=86400.0, description="How long identity drops provider retries (same event_id)."
    )
    personal_data_retention_seconds: Annotated[float, Field(ge=1, le=366 * 86400)] = Field(
        default=28 * 86400.0, description="Longest time a topic keeps a record holding "
        "personal data (retention / compaction lag; docs/privacy.md)."
    )
    reopen_window_seconds: Annotated[float, Field(ge=0, le=365 * 86400)] = Field(
        default=7 * 86400.0,
        description="A resolved conversation reopens when the customer writes within this window.",
    )

    log_level: str = Field(default="info", pattern=r"^(?i:debug|info|warning|error)$")
    log_format: LogFormat = LogFormat.AUTO

    twilio_auth_token: SecretStr | None = None
    meta_app_secret: SecretStr | None = None
    meta_verify_token: SecretStr | None = None
    telegram_secret_token: SecretStr | None = None
    line_channel_secret: SecretStr | None = None
    kakao_secret: SecretStr | None = None
    mailgun_signing_key: SecretStr | None = None
    webchat_identity_secret: SecretStr | None = None
    sendgrid_inbound_secret: SecretStr | None = Field(
        default=None, description="Secret path segment: /webhooks/sendgrid/<secret>."
    )

    email_mailboxes: str = Field(
        default="", description="Comma-separated support addresses mail is accepted for."
    )
    email_from_name: Annotated[str, Field(max_length=100)] = Field(
        default="", description="Display name in the From of automatic and bot mail "
                                "(e.g. 'Acme Support'); empty: the bare mailbox address.")
    smtp_max_message_bytes: Annotated[int, Field(ge=1024)] = 25 * 1024 * 1024
    email_attachment_max_bytes: Annotated[int, Field(ge=0)] = Field(
        default=25 * 1024 * 1024, description="Largest email attachment whose bytes are stored "
        "in PostgreSQL for agents (larger: only its name, type, size and SHA-256; 0: none).")
    smtp_relay_host: str = "127.0.0.1"
    smtp_relay_port: Port = 25
    smtp_relay_username: str | None = None
    smtp_relay_password: SecretStr | None = None
    smtp_relay_starttls: bool = False
    webchat_history_limit: Annotated[int, Field(ge=1, le=1000)] = 100

    # messaging connectors (issue 6): outbound credentials, provider API base URLs, delivery
    twilio_account_sid: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    meta_access_token: SecretStr | None = None
    meta_graph_base_url: str = "https://graph.facebook.com"
    meta_graph_version: str = Field(default="v21.0", pattern=r"^v[0-9]+\.[0-9]+$")
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    line_channel_access_token: SecretStr | None = None
    line_api_base_url: str = "https://api.line.me"
    line_data_api_base_url: str = Field(
        default="https://api-data.line.me",
        description="LINE's data API host, where the content customers send is downloaded.")
    kakao_use_callback: bool = True
    kakao_rest_api_key: SecretStr | None = Field(
        default=None, description="The Kakao app's REST API key: with it, an answer without a "
        "fresh callback URL goes through the Event API (billed by Kakao per message).")
    kakao_event_name: str = Field(
        default="omniroute_reply", min_length=1, max_length=100,
        description="The event name set on the chatbot block that shows the Event API's text.")
    kakao_api_base_url: str = Field(
        default="https://bot-api.kakao.com",
        description="Kakao's bot API, where the Event API is (tests point it at a local fake).")
    kakao_bot_id: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[^/?#\s]+$",
        description="The bot id the Event API sends as (a development channel's ends in !); "
        "default: the message's channel account, the skill request's bot.id.")
    kakao_ack_text: str = Field(
        default="메시지를 받았어요. 잠시만 기다려 주세요.", min_length=1, max_length=1000,
        description="The skill response's text (the waiting text with useCallback): Korean, as "
        "KakaoTalk's customers are, and a wait notice rather than an acknowledgement, which "
        "automation sends after it (an English thank-you went before automation's Korean one).")
    ingress_publish_timeout: Annotated[float, Field(gt=0, le=60)] = 4.0
    profile_lookup_timeout_s: Annotated[float, Field(ge=0, le=10)] = 2.0
    """How long the ingress waits for a provider's profile API (LINE, Messenger, Instagram)
    to name a new sender before it publishes the message without a name; 0 turns it off."""
    gateway_publish_timeout: Annotated[float, Field(gt=0, le=25)] = 5.0
    """Below the idempotency claim's 30 s, after which a retry may take the claim over."""
    delivery_max_attempts: Annotated[int, Field(ge=1, le=50)] = 5
    delivery_backoff_seconds: Annotated[float, Field(ge=0, le=300)] = 1.0
    delivery_rate_per_second: Annotated[float, Field(gt=0, le=10000)] = 20.0
    delivery_retry_rounds: Annotated[int, Field(ge=0, le=1000)] = 20
    """Rounds a message whose provider could not be reached is sent again, each
    ``delivery_retry_seconds`` after the last, before it fails (0: it fails at once)."""
    delivery_retry_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    connectors_config: Path | None = Field(
        default=None, description="TOML file listing several accounts per messaging provider."
    )
    media_max_bytes: Annotated[int, Field(ge=1024, le=1024 * 1024 * 1024)] = Field(
        default=25 * 1024 * 1024, description="Largest attachment the gateway fetches from a "
        "provider for an agent; a larger one is refused 502 media_too_large.")
    media_fetch_timeout_s: Annotated[float, Field(gt=0, le=300)] = Field(
        default=30.0, description="How long the gateway spends fetching one attachment from "
        "its provider (every step and redirect, and the bytes).")
    media_private_origins: str = Field(
        default="", description="Comma-separated origins (http://10.0.0.5:8080) the gateway "
        "(customers' media) and the email sender (outbound files) may fetch from although "
        "they are private network addresses; the provider API base URLs are always allowed, "
        "every other private address refused.")

    # hardening (issue 16): bounds at the edge
    max_event_bytes: Annotated[int, Field(ge=65_536, le=900_000)] = Field(
        default=400_000, description="Largest serialized event the edge publishes; larger "
        "inbound messages are truncated and flagged (metadata.truncated), others refused 413.")
    ingress_public_operations: bool | None = Field(
        default=None, description="Serve /metrics, /healthz and /readyz on the public ingress "
        "port (default: in development only; otherwise on OMNIROUTE_METRICS_PORT).")
    kakao_callback_hosts: str = Field(
        default="kakao.com", description="Hosts (and their subdomains) a Kakao callbackUrl may "
        "name, https only; a full origin (http://127.0.0.1:8000) allows exactly that origin.")
    identity_key: SecretStr = Field(
        default=SecretStr("omniroute-development-identity-key"),
        description="Key of the customer-id hash; the development default is refused in "
        "production.")
    webchat_allowed_origins: str = Field(
        default="", description="Comma-separated origins allowed to open web chat sockets "
        "(https://shop.example); empty allows any.")
    webchat_max_sockets_per_ip: Annotated[int, Field(ge=1, le=100_000)] = 20
    webchat_new_visitors_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 30
    webchat_messages_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 60
    webchat_upload_max_bytes: Annotated[int, Field(ge=1, le=1024 * 1024 * 1024)] = Field(
        default=10 * 1024 * 1024, description="Largest file a web chat visitor may upload "
        "(stored in PostgreSQL for agents); larger uploads are refused 413.")
    webchat_upload_bytes_per_ip_per_hour: Annotated[int, Field(ge=1)] = Field(
        default=256 * 1024 * 1024, description="Bytes web chat visitors of one IP may upload "
        "per hour (any number of visitor tokens); beyond, uploads are refused 429.")
    # support analytics (issue 15)
    analytics_office_hours: str = Field(
        default="mon-fri 09:00-17:00 UTC",
        description="Office hours for business-hours metrics: days, hours and a time zone.",
    )
    analytics_short_abandon_seconds: Annotated[float, Field(ge=0, le=3600)] = 10.0
    analytics_max_concurrency: Annotated[int, Field(ge=1, le=100)] = 3

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql:// (e.g. postgresql://user:pw@host/db)")
        return value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{server!r} is not host:port (e.g. 127.0.0.1:9092)")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be the public http(s):// URL providers call")
        return value.rstrip("/") if value else value

    @field_validator("kakao_api_base_url")
    @classmethod
    def _kakao_api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be the http(s):// URL of Kakao's bot API "
                             "(https://bot-api.kakao.com)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            for name in SECRET_FIELDS:
                secret = getattr(self, name)
                if secret is not None and placeholder_secret(secret.get_secret_value()):
                    raise ValueError(
                        f"{ENV_PREFIX}{name.upper()} is a placeholder; set a real secret "
                        "in production"
                    )
        return self

    @property
    def embedded_database(self) -> bool:
        """True when omniroute starts its own PostgreSQL."""
        return self.database_url is None

    def topic(self, name: str) -> str:
        """The full topic name in this deployment's namespace."""
        return f"{self.topic_namespace}{name}"


def _describe(error: ErrorDetails) -> str:
    location = [str(part) for part in error.get("loc", ()) if part != "__root__"]
    variable = f"{ENV_PREFIX}{location[0].upper()}" if location else "settings"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    given = error.get("input")
    secret = bool(location) and location[0] in SECRET_FIELDS
    hidden = given is None or isinstance(given, dict) or secret
    shown = "" if hidden else f" (got {str(given)!r})"
    return f"{variable}: {message}{shown}"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment, raising one precise ConfigurationError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise ConfigurationError(
            f"invalid configuration: {problems}",
            hint="fix the variable(s) named above and start again",
        ) from exc

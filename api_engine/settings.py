"""Service settings: environment variables with the prefix API_ENGINE_, plus an optional TOML file.

Strategy: one pydantic-settings model that every part of the shell receives; nothing reads the
environment anywhere else. Precedence: explicit arguments, then environment, then the file named
by API_ENGINE_CONFIG, then defaults (the embedded defaults need no configuration at all).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


class Topics(BaseSettings):
    """Kafka topic names (API_ENGINE_TOPICS__INBOUND=... and so on)."""

    inbound: str = "api.inbound"
    acks: str = "api.acks"
    alerts: str = "border.alerts"
    manifests: str = "border.manifests"
    dlq: str = "api.dlq"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="API_ENGINE_", env_nested_delimiter="__", extra="ignore")

    # Kafka. Empty bootstrap servers: start the embedded broker on loopback.
    kafka_bootstrap_servers: str | None = None
    kafka_security_protocol: str = "PLAINTEXT"  # PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_sasl_mechanism: str | None = None  # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_group_id: str = "api-engine"
    kafka_partitions: int = 6
    # How long a fetch may wait at the broker for new records. Tansu answers a waiting fetch only when
    # this runs out (a produce does not wake it), so it bounds the delay per hop; on Kafka a short wait
    # only costs a few more idle fetch requests.
    kafka_fetch_max_wait_ms: int = 50
    embedded_broker_port: int = 0  # 0: pick a free loopback port
    topics: Topics = Field(default_factory=Topics)

    # Storage and data.
    data_dir: Path = Path("./data")
    database_url: str | None = None  # default: SQLite file under data_dir
    watchlists: Annotated[list[str], NoDecode] = Field(default_factory=list)  # comma-separated in env
    # Targeting rule files (watchlists.rules), active by configuration beside the rule sets approved in the
    # store (api_engine.service.rules); comma-separated in env, like the watchlists.
    rules: Annotated[list[str], NoDecode] = Field(default_factory=list)
    profile: str = "baseline"

    # Sender binding (api_engine.service.senders.SenderBinding, docs/carrier-identity.md): a TOML file
    # naming, per authenticated carrier identity, the UNB sender ids it may use, and optionally the
    # per-carrier inbound topics. When set, a record whose identity is missing or not bound to its UNB
    # sender is refused (negative CONTRL 23 and a dead letter). The identity comes from the header named
    # here (stamped by a trusted gateway), else from the record's topic.
    sender_binding: Path | None = None
    sender_identity_header: str | None = None

    # Data protection (api_engine.protection.crypto, api_engine.protection.retention): keys are base64 of 32 bytes.
    data_key: SecretStr | None = None  # absent: a key file is generated under data_dir (with a warning)
    data_keys_old: Annotated[list[str], NoDecode] = Field(default_factory=list)  # decrypt only, until rotated
    pseudonym_key: SecretStr | None = None  # absent: derived from data_key (or kept in the key file)
    retention_policy: Path | None = None  # TOML; absent: api_engine/protection/policies/retention.toml

    # Processing.
    workers: int = 1
    max_in_flight: int = 64  # records being processed per worker at once (backpressure bound)
    max_batch: int = 32  # records of one partition committed in one transaction (when that many are waiting)
    # Largest inbound record read; a larger one is dead-lettered unread (ENV-TOO-LARGE). Reading costs
    # about 40 times the input in memory, so this bounds a worker's memory per record. Real PAXLST
    # interchanges stay well under 1 MB (an A380 of 850 travellers at 400 bytes each is ~340 KB, and
    # Type-B carriage splits lists into 3,000-character parts), so 4 MiB leaves room without letting
    # one record take gigabytes.
    max_record_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    http_port: int = 8080
    http_host: str = "127.0.0.1"
    # HTTPS for the workers' HTTP port (carriers' bearer tokens on /iapi/v1/paxlst): PEM files, both or neither.
    http_tls_certfile: Path | None = None
    http_tls_keyfile: Path | None = None
    shutdown_timeout_s: float = 20.0
    # With no watchlist loaded `serve` refuses to start unless this is set; it then says so on /readyz,
    # in the metrics and in every manifest event (`screened: false`).
    allow_unscreened: bool = False

    # Faults (api_engine.service.pipeline, api_engine.cli.serve): a store or broker outage is waited
    # out, retrying with a back-off from the initial to the maximum delay; a worker that dies is
    # restarted with the same back-off, at most `worker_restart_limit` times within the window.
    retry_backoff_initial_s: float = 0.5
    retry_backoff_max_s: float = 10.0
    worker_restart_limit: int = 5
    worker_restart_window_s: float = 300.0

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.http_tls_certfile is None) != (self.http_tls_keyfile is None):
            raise ValueError("HTTPS needs both API_ENGINE_HTTP_TLS_CERTFILE and API_ENGINE_HTTP_TLS_KEYFILE")
        return self

    @field_validator("watchlists", "rules", "data_keys_old", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    retention_interval_s: float = 900.0  # the service runs the retention job this often; 0 turns it off

    # Live lists (api_engine.service.lists, api_engine.service.rescreen): configured list files are looked
    # at this often (and at once on SIGHUP or `api-engine lists reload`); a change is installed and the
    # stored travellers of flights still in the window (not yet arrived, or arrived less than the margin
    # ago) are re-screened against its added and changed entries. While records wait, a re-screen takes
    # at most `rescreen_share` of a worker's time; an idle worker re-screens at full speed.
    list_check_interval_s: float = Field(default=30.0, gt=0, le=60)
    rescreen_margin_s: float = Field(default=86400.0, ge=0)
    rescreen_share: float = Field(default=0.25, gt=0, le=1)

    # Notifications (api_engine.service.notify, docs/service.md "Notifications"): alerts of at least this
    # severity are sent to the officers on duty by e-mail and by a signed webhook, each channel carrying only
    # what the minimisation policy declares for it. A channel is on only when configured: e-mail needs the SMTP
    # host and at least one address, the webhook its URL and secret. Nothing is sent otherwise.
    notify_min_severity: Literal["low", "medium", "high"] = "high"
    notify_smtp_host: str | None = None
    notify_smtp_port: int = 587
    notify_smtp_starttls: bool = True
    notify_smtp_username: str | None = None
    notify_smtp_password: SecretStr | None = None
    notify_smtp_from: str = "api-engine@localhost"
    notify_email_to: Annotated[list[str], NoDecode] = Field(default_factory=list)  # the duty officers, comma-separated
    notify_webhook_url: str | None = None
    notify_webhook_secret: SecretStr | None = None
    notify_console_url: str | None = None  # the console's base URL: notifications link to <url>/hits/<id>
    notify_attempts: int = Field(default=5, ge=1, le=20)  # per channel and alert, the first one included
    notify_backoff_initial_s: float = Field(default=2.0, gt=0)
    notify_backoff_max_s: float = Field(default=120.0, gt=0)
    notify_timeout_s: float = Field(default=10.0, gt=0)  # one SMTP session or one webhook request

    @field_validator("notify_email_to", mode="before")
    @classmethod
    def _split_notify_to(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @model_validator(mode="after")
    def _notify_webhook_signed(self) -> Settings:
        if self.notify_webhook_url and self.notify_webhook_secret is None:
            raise ValueError("a notification webhook is signed: set API_ENGINE_NOTIFY_WEBHOOK_SECRET with "
                             "API_ENGINE_NOTIFY_WEBHOOK_URL")
        return self

    @classmethod
    def with_overrides(cls, **overrides: Any) -> Settings:
        """Settings from the environment, with command-line options that were actually given on top."""
        return cls(**{k: v for k, v in overrides.items() if v is not None and v != ""})

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'api-engine.db').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("API_ENGINE_CONFIG")
        if config:
            data = tomllib.loads(Path(config).read_text(encoding="utf-8"))
            sources.append(InitSettingsSource(settings_cls, init_kwargs=data))
        return tuple(sources)

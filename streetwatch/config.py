"""One settings model, read from ``streetwatch.toml`` and ``STREETWATCH_*`` environment variables.

Precedence, highest first: environment variables, the TOML file, defaults. Nested sections use a
double underscore in the environment: ``STREETWATCH_STORE__BATCH_SIZE=2000`` sets ``[store] batch_size``.

A bad value raises :class:`ConfigError` whose message names the key and where it came from::

    STREETWATCH_DATABASE_URL (environment): unsupported scheme 'mysql'; use postgresql://… or sqlite:///path
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from streetwatch.gc_tuning import GcThresholds
from streetwatch.redact import redact_url

ENV_PREFIX = "STREETWATCH_"
CONFIG_ENV = "STREETWATCH_CONFIG"
DEFAULT_CONFIG_FILE = Path("streetwatch.toml")


class ConfigError(Exception):
    """A configuration value is wrong; the message is one line naming the key and its source."""


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """A parsed ``database_url``: which backend, and how to reach it."""

    backend: Literal["postgresql", "sqlite"]
    url: str
    sqlite_path: Path | None = None

    @classmethod
    def parse(cls, url: str) -> DatabaseUrl:
        """Parse ``postgresql://…`` or ``sqlite:///relative/path`` / ``sqlite:////absolute/path``.

        >>> DatabaseUrl.parse("sqlite:///data/sw.db").sqlite_path
        PosixPath('data/sw.db')
        """
        scheme = urlsplit(url).scheme.lower()
        if scheme in ("postgresql", "postgres"):
            if not url.split("://", 1)[1]:
                raise ValueError("postgresql URL has no host or database")
            return cls("postgresql", url)
        if scheme == "sqlite":
            if not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
                raise ValueError("sqlite URL must be sqlite:///relative/path or sqlite:////absolute/path")
            return cls("sqlite", url, Path(url[len("sqlite:///") :]))
        shown = scheme or redact_url(url)
        raise ValueError(f"unsupported scheme {shown!r}; use postgresql://… or sqlite:///path")


class MqttSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field("streetwatch-gateway", description="fixed client id for the persistent session")
    protocol: Literal["5", "3.1.1"] = Field("5", description="MQTT version the gateway speaks; shared "
                                           "subscriptions need 5")
    session_expiry_s: int = Field(86_400, ge=0, description="how long the broker keeps the session")
    shared_group: str | None = Field(None, description="MQTT v5 shared-subscription group, e.g. 'gw'")
    max_payload_bytes: int = Field(65_536, gt=0)
    max_clock_skew_s: float = Field(300.0, ge=0, description="a reading stamped further ahead of the gateway's "
                                    "clock is refused (future_timestamp)")
    hold_unknown_s: float = Field(3.0, ge=0, description="how long a message from an unknown sender waits for "
                                  "its device to be registered before it is refused; 0 refuses at once")
    ca_file: Path | None = Field(None, description="with mqtts://: the CA certificate (PEM) that signed the "
                                 "broker's; default: the system's CAs")
    cert_file: Path | None = Field(None, description="with mqtts://: a client certificate (PEM) for brokers "
                                   "that require one")
    key_file: Path | None = Field(None, description="the client certificate's private key (PEM), unless "
                                  "cert_file holds it")


class StoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(20_000, gt=0, description="flush a write batch at this many readings")
    flush_interval_ms: int = Field(200, gt=0, description="…or when the oldest reading is this old")
    queue_size: int = Field(100_000, gt=0, description="readings waiting for the writer (backpressure)")
    chunk_interval: str = Field("1 day", description="TimescaleDB chunk interval of the readings hypertable")
    raw_retention_days: int = Field(90, gt=0)
    minute_retention_days: int = Field(730, gt=0)
    hour_retention_days: int | None = Field(None, gt=0, description="unset keeps hourly rollups forever")


class BrokerSettings(BaseModel):
    """The Mosquitto configuration that ``streetwatch broker config`` writes (docs/security.md)."""

    model_config = ConfigDict(extra="forbid")

    tls_port: int = Field(8883, ge=1, le=65535, description="the broker's TLS listener")
    listen_host: str = Field("127.0.0.1", description="address the broker listens on; set the field network's")
    pki_dir: Path | None = Field(None, description="the installation's CA (streetwatch pki); default data_dir/pki")
    require_certificate: bool = Field(False, description="clients must show a certificate of the CA; its CN "
                                      "(the device id) is their user name")


class GatewaySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    poll_concurrency: int = Field(200, gt=0, description="Modbus TCP devices read at once")
    poll_timeout_s: float = Field(3.0, gt=0)
    offline_after_failures: int = Field(3, gt=0)
    metrics_port: int | None = Field(9108, ge=0, le=65535, description="Prometheus metrics; unset disables")
    api_port: int | None = Field(8080, ge=0, le=65535, description="HTTP API; unset disables")
    listen_host: str = Field("127.0.0.1", description="address the metrics and API servers listen on; "
                             "another (e.g. 0.0.0.0) exposes them beyond this machine")
    water_report_remote: bool = Field(False, description="serve the API's /water/report to other machines too "
                                      "(with a listen_host that reaches them); else to this machine only")
    journal_max_bytes: int | None = Field(4 * 1024**3, gt=0, description="the journal's cap: once it holds this "
                                          "much, messages are refused (not acknowledged) until the store takes "
                                          "the backlog; unset: only the disk limits it")
    journal_min_free_bytes: int = Field(256 * 1024**2, ge=0, description="free-space alarm when the journal's "
                                        "disk has less free (also at 90 % of journal_max_bytes)")
    modbus_block_fault_after_s: float | None = Field(None, gt=0, description="a register block refused at every "
                                                      "poll this long raises the device fault alert "
                                                      "modbus-block-refused; unset: the window of the absence "
                                                      "rule that watches the device (15 min if none)")
    gc_tuning: bool = Field(True, description="freeze the objects loaded at start and raise the collector's "
                            "thresholds once running: no 100+ ms full collections under load")
    gc_thresholds: GcThresholds = Field((50_000, 20, 100), description="gc.set_threshold() while running, with "
                                        "gc_tuning")

    @field_validator("listen_host")
    @classmethod
    def _check_listen_host(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value.strip().strip("[]")))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address (e.g. 127.0.0.1, 0.0.0.0 or ::1)") from None



def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{redact_url(value)!r} is not an http:// or https:// URL")
    return value


HttpUrlText = Annotated[str, AfterValidator(_http_url)]
"""A URL (or URL template) that must be http:// or https:// with a host."""


class WebhookSettings(BaseModel):
    """One webhook: alert notifications POSTed as JSON, signed with HMAC-SHA256 of the body."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrlText = Field(description="http(s)://… to POST alert notifications to")
    secret: SecretStr = Field(SecretStr(""), description="HMAC-SHA256 key; X-Streetwatch-Signature: sha256=<hex>")
    severities: list[str] = Field(default_factory=list, description="only these severities; empty: all")
    sites: list[str] = Field(default_factory=list, description="only alerts of these sites; empty: all")
    timeout_s: float = Field(5.0, gt=0)
    max_attempts: int = Field(6, ge=1, description="tries per notification, with exponential backoff")
    backoff_initial_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(60.0, gt=0)


class NotificationSettings(BaseModel):
    """Where alert notifications go: MQTT ``streetwatch/alerts/{severity}/{device}`` always, webhooks by route."""

    model_config = ConfigDict(extra="forbid")

    mqtt: bool = Field(True, description="publish alert notifications to MQTT (QoS 1)")
    webhooks: list[WebhookSettings] = Field(default_factory=list)
    reminder_interval_s: float = Field(900.0, gt=0, description="repeat unacknowledged alerts this often")
    reminder_severities: list[str] = Field(default_factory=lambda: ["red"], description="…of these severities")
    sweep_interval_s: float = Field(10.0, gt=0, description="how often missed notifications and reminders are sent")
class ControlSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command_ttl_s: float = Field(900.0, gt=0, description="a command not confirmed within this expires")
    fanout_concurrency: int = Field(200, gt=0, description="deliveries in flight at once")
    max_bulk_without_yes: int = Field(100, ge=0, description="a command for more devices needs --yes")
    attempt_timeout_s: float = Field(5.0, gt=0, description="how long one attempt waits for its confirmation")
    retry_initial_s: float = Field(1.0, gt=0, description="first wait before a retry; it doubles each time")
    retry_max_s: float = Field(60.0, gt=0, description="longest wait between retries")
    pickup_interval_s: float = Field(0.25, gt=0, description="how often the gateway looks for commands the CLI queued")
    rated_power_w: float = Field(100.0, gt=0, description="a lamp's power at 100 %, unless its rated_power_w tag says")


class ApiSettings(BaseModel):
    """``streetwatch serve``: the operator HTTP API (docs/api.md)."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="address to listen on; beyond loopback only when told")
    port: int = Field(8000, ge=1, le=65535, description="port to listen on")
    approval_threshold: int = Field(500, ge=1, description="a command for more devices waits for a second person")
    approval_levels: list[str] = Field(default_factory=lambda: ["city", "district"],
                                       description="a command for a whole area of these levels waits too")
    approval_ttl_s: float = Field(3600.0, gt=0, description="a request nobody approves within this expires")
    requests_per_minute: int = Field(600, ge=1, description="per token, session or address; then 429")
    cookie_secure: bool = Field(True, description="session cookies only over HTTPS (browsers allow localhost)")
    events_poll_s: float = Field(0.25, gt=0, description="how often the event reader looks for new events")
    gc_tuning: bool = Field(True, description="freeze the objects loaded at start and raise the collector's "
                            "thresholds once serving: no 40+ ms full collections in a request's time")
    gc_thresholds: GcThresholds = Field((50_000, 20, 100), description="gc.set_threshold() while serving, with "
                                        "gc_tuning")


class HttpGatewaySettings(BaseModel):
    """A generic HTTP gateway for SMS or voice calls: the provider-specific part is this configuration."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrlText = Field(description="URL template; {mobile} and {text} are filled in, URL-encoded")
    method: Literal["GET", "POST"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict, description="extra request headers")
    body: str = Field('{"to": "{mobile}", "text": "{text}"}', description="body template for POST (JSON-escaped)")
    secret: SecretStr = Field(SecretStr(""), description="HMAC-SHA256 key; X-Signature: hex of timestamp + body")
    timeout_s: float = Field(5.0, gt=0)


class DutySettings(BaseModel):
    """Duty rotas, escalation and the channels that reach people (docs/duty.md)."""

    model_config = ConfigDict(extra="forbid")

    duty_dir: Path | None = Field(None, description="rota and escalation policy files (YAML/TOML)")
    ack_secret: SecretStr = Field(SecretStr(""), description="key of the signed acknowledgement links; "
                                  "empty: one is made and kept in data_dir")
    public_url: str = Field("http://127.0.0.1:8000", description="where `streetwatch serve` is reached, for links")
    ack_link_ttl_s: float = Field(86_400.0, gt=0, description="how long an acknowledgement link works")
    map_url: str = Field("", description="map link template with {lat} and {lon}; empty: no map link")
    tick_s: float = Field(1.0, gt=0, description="how often escalations and the outbox are looked at")
    smtp_host: str = Field("127.0.0.1", description="SMTP server for e-mail")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    mail_from: str = Field("streetwatch@localhost", description="sender of alert e-mails")
    sms: HttpGatewaySettings | None = Field(None, description="the SMS gateway; unset: no SMS")
    voice: HttpGatewaySettings | None = Field(None, description="the voice-call gateway; unset: no voice calls")
    retry_initial_s: float = Field(2.0, gt=0, description="first wait before a channel retries")
    retry_max_s: float = Field(300.0, gt=0, description="longest wait between retries")
    max_attempts: int = Field(20, ge=1, description="tries per notification before it is given up")
class ConsoleSettings(BaseModel):
    """The operator console served by ``streetwatch serve`` (docs/console.md)."""

    model_config = ConfigDict(extra="forbid")

    tile_url: str = Field("", description="basemap tiles, e.g. https://tiles.example.city/{z}/{x}/{y}.png; "
                                          "empty: a plain background with area outlines")
    tile_attribution: str = Field("", description="the tile server's credit line, shown on the map")
    tile_max_zoom: int = Field(19, ge=1, le=24, description="the deepest zoom the tile server has")
    wall_refresh_s: float = Field(60.0, gt=0, description="how often the wall layout reloads the whole map")


class Settings(BaseSettings):
    """Everything Streetwatch can be told. Field docs are the configuration reference."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(Path(".streetwatch"), description="where the SQLite store, spool and state live")
    database_url: str | None = Field(
        None, description="postgresql://… (TimescaleDB) or sqlite:///path; default: SQLite in data_dir"
    )
    mqtt_url: str = Field("mqtt://127.0.0.1:1883", description="mqtt://[user:password@]host[:port], or "
                          "mqtts://… for TLS (port 8883 by default; see [mqtt] ca_file)")
    timezone: str = Field("Asia/Shanghai", description="IANA zone for schedules and displayed times")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    profiles_dir: Path | None = Field(None, description="extra device profiles beside the shipped ones")
    rules_dir: Path | None = Field(None, description="rule files; default: the shipped examples")
    schedules_dir: Path | None = Field(None, description="lighting schedules; default: the shipped ones")
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    control: ControlSettings = Field(default_factory=ControlSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    duty: DutySettings = Field(default_factory=DutySettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is not None:
            DatabaseUrl.parse(value)
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        from streetwatch.mqtt.url import BrokerUrl  # the one parser; streetwatch.mqtt imports this module

        BrokerUrl.parse(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from None
        return value

    @property
    def database(self) -> DatabaseUrl:
        """The database to use; the embedded SQLite file in ``data_dir`` unless told otherwise."""
        if self.database_url is None:
            return DatabaseUrl.parse(f"sqlite:///{self.data_dir / 'streetwatch.db'}")
        return DatabaseUrl.parse(self.database_url)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init kwargs (see load_settings), below the environment.
        return (env_settings, init_settings)


def _env_name(loc: tuple[str | int, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


def _describe_source(loc: tuple[str | int, ...], environ: Mapping[str, str], file_data: dict[str, Any],
                     config_path: Path | None) -> str:
    # The deepest env var that could have set this value wins, as in pydantic-settings.
    for depth in range(len(loc), 0, -1):
        name = _env_name(loc[:depth])
        if any(key.upper() == name for key in environ):
            return f"{name} (environment)"
    node: Any = file_data
    for part in loc:
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]  # an array of tables, e.g. [[notifications.webhooks]]
            continue
        if not isinstance(node, dict) or part not in node:
            break
        node = node[part]
    else:
        dotted = ".".join(str(part) for part in loc)
        return f"{dotted} (in {config_path})"
    return ".".join(str(part) for part in loc) + " (default)"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read it: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}") from None


def load_settings(config_path: Path | None = None) -> Settings:
    """Read the settings: ``config_path``, else ``$STREETWATCH_CONFIG``, else ``./streetwatch.toml`` if present.

    Raises :class:`ConfigError` with one line per problem, each naming the key and its source.
    """
    environ = os.environ
    if config_path is None and environ.get(CONFIG_ENV):
        config_path = Path(environ[CONFIG_ENV])
        if not config_path.exists():
            raise ConfigError(f"{CONFIG_ENV} (environment): config file {config_path} does not exist")
    elif config_path is None and DEFAULT_CONFIG_FILE.exists():
        config_path = DEFAULT_CONFIG_FILE
    elif config_path is not None and not config_path.exists():
        raise ConfigError(f"--config: config file {config_path} does not exist")
    file_data = _read_toml(config_path) if config_path is not None else {}
    try:
        return Settings(**file_data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown setting"
            lines.append(f"{_describe_source(loc, environ, file_data, config_path)}: {message}")
        raise ConfigError("; ".join(lines)) from None

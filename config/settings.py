"""Typed settings, read once from the environment.

Every value is an environment variable of the same name in upper case (``DATABASE_URL``,
``REDIS_URL`` ...). A malformed value stops the process at start with a message that names the
variable and says what is expected, instead of failing later on first use.
"""

from __future__ import annotations

import secrets
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.redis_url import RedisAddress, SentinelAddress, is_sentinel
from domain.budgets import parse_budgets

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The development secret is fixed so that tokens survive a restart of `make serve`; production
# refuses to start with it (see `_production_needs_real_secrets`).
DEV_JWT_SECRET = "shutter-development-secret-do-not-use-in-production"  # noqa: S105


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which one and what to do."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"

    # Stores. Empty DATABASE_URL / REDIS_URL means: start the embedded servers under DATA_DIR.
    database_url: str | None = None
    redis_url: str | None = None
    # The job queues' Redis (arq has no Redis Cluster support): a standalone Redis of its own,
    # or unset for the same one as REDIS_URL.
    redis_queue_url: str | None = None
    # REDIS_URL names a node of a Redis Cluster (true), a single Redis (false), or unset: ask
    # the server (INFO cluster). On a cluster, REDIS_QUEUE_URL is required.
    redis_cluster: bool | None = None
    database_pool_size: int = Field(default=10, ge=1, le=500)
    # Read replicas (comma-separated URLs) for reads that may be a moment stale; a replica
    # further behind than the lag bound is skipped (see domain/replicas).
    database_replica_urls: str = ""
    database_replica_max_lag_ms: int = Field(default=2_000, ge=0, le=600_000)
    # Through PgBouncer in transaction mode: no prepared statements kept per connection.
    database_pgbouncer: bool = False
    data_dir: Path = PROJECT_ROOT / ".data"

    # Object storage: S3 when S3_BUCKET is set, else the local folder MEDIA_ROOT under /media.
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    media_root: Path = PROJECT_ROOT / ".data" / "media"
    cdn_base_url: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    video_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = (
        "veryfast"
    )

    # Auth.
    jwt_secret: str = DEV_JWT_SECRET
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=30 * 86_400, ge=3_600, le=365 * 86_400)

    # GraphQL guard rails.
    graphql_max_depth: int = Field(default=12, ge=2, le=50)
    graphql_max_tokens: int = Field(default=2_000, ge=100, le=100_000)
    graphql_max_aliases: int = Field(default=30, ge=1, le=1_000)
    # The most objects one query may be able to return (`first` multiplied down the tree).
    graphql_max_cost: int = Field(default=50_000, ge=1, le=100_000_000)
    # Queries run compiled (schema/engine) unless this is off.
    graphql_compiled: bool = True
    # Unset: on outside production, off in production (set true to keep them there).
    graphiql: bool | None = None
    graphql_introspection: bool | None = None
    # /metrics needs `Authorization: Bearer <METRICS_TOKEN>` when set; in production without
    # one, /metrics is off (workers' --metrics-port is a port of its own).
    metrics_token: str | None = None
    # Proxies (addresses or CIDR networks, comma-separated) whose X-Forwarded-For is believed,
    # for the per-address limits; by default none: the peer's own address is the client's.
    trusted_proxies: str = ""
    # Browser origins allowed to call the API and fetch media (comma-separated, e.g.
    # "https://app.example.com,http://localhost:5173"); "*" for any, outside production only.
    cors_allow_origins: str = ""
    # GraphQL requests one API process serves at once; past it, 503 UNAVAILABLE at once.
    max_in_flight: int = Field(default=64, ge=1, le=100_000)
    # How many of those run at once; the others wait their turn (0: all run at once).
    max_running: int = Field(default=8, ge=0, le=100_000)
    # The largest /graphql request body, uploads apart (they may add the largest media file).
    max_body_bytes: int = Field(default=1_048_576, ge=4_096, le=1_073_741_824)
    rate_limit_per_minute: int = Field(default=600, ge=1)
    auth_rate_limit_per_minute: int = Field(default=20, ge=1)
    # Failed sign-ins one account may take (from any address) before it is locked for the
    # rest of the window; a success resets the count.
    login_max_failures: int = Field(default=10, ge=1)
    login_lock_seconds: int = Field(default=900, ge=10)
    # Per-account action budgets over the defaults of domain/budgets.py, e.g.
    # "follow=400/1d,post=100/3h,comment=200/1h,message=500/1h,report=100/1d,upload=30/30m".
    action_budgets: str = ""
    # Distinct people whose reports hide a post or comment (from all but its author) until a
    # moderator decides.
    reports_to_hide: int = Field(default=5, ge=1, le=1_000)

    # Home feed.
    fanout_max_followers: int = Field(default=10_000, ge=0)
    feed_active_days: int = Field(default=30, ge=1, le=365)

    # Caching.
    # How long any Redis or Postgres call waits (to connect, or for its answer) before the
    # request gets UNAVAILABLE (retryable) and a job is tried again later.
    redis_timeout_ms: int = Field(default=2_000, ge=10, le=60_000)
    database_timeout_ms: int = Field(default=5_000, ge=10, le=600_000)
    cache_ttl_seconds: int = Field(default=3_600, ge=1)
    # How long a viewer's assembled story tray is kept while nothing in it changes
    # (domain/stories/tray_cache.py); 0 assembles every tray anew.
    tray_cache_seconds: int = Field(default=60, ge=0, le=3_600)
    # How often a process looks for a newly published ranking model (domain/ranking/served.py).
    ranking_model_check_seconds: float = Field(default=5.0, ge=0, le=3_600)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"postgres", "postgresql"}:
            raise ValueError("must look like postgresql://user:password@host:5432/dbname")
        if not parts.path.strip("/"):
            raise ValueError("names no database: add /dbname to the URL")
        return value

    @field_validator("redis_url", "redis_queue_url")
    @classmethod
    def _check_redis_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value:
            return None
        if is_sentinel(value):
            if info.field_name != "redis_queue_url":
                raise ValueError("a Sentinel URL is for REDIS_QUEUE_URL (the job queues) only")
            try:
                SentinelAddress.from_url(value)
            except ValueError as error:
                raise ValueError(
                    "must look like redis+sentinel://[user:password@]host:26379[,host:26379]"
                    f"/mymaster/0 ({error})"
                ) from None
            return value
        try:
            RedisAddress.from_url(value)  # as every client will read it
        except ValueError as error:
            raise ValueError(
                "must look like redis://[user:password@]host:6379/0, rediss://... or"
                f" unix:///path/redis.sock?db=0 ({error})"
            ) from None
        return value

    @field_validator("s3_endpoint_url", "cdn_base_url", "public_base_url")
    @classmethod
    def _check_http_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        if self.environment == "production":
            if self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < 32:
                raise ValueError(
                    "JWT_SECRET must be set to a random string of at least 32 characters in "
                    f"production; for example: {secrets.token_urlsafe(32)}"
                )
            if not self.database_url or not self.redis_url:
                raise ValueError("DATABASE_URL and REDIS_URL must be set in production")
            if "*" in self.cors_origins:
                raise ValueError(
                    "CORS_ALLOW_ORIGINS may not be * in production: name the frontends' origins"
                )
        return self

    @field_validator("cors_allow_origins")
    @classmethod
    def _check_origins(cls, value: str) -> str:
        for origin in (part.strip() for part in value.split(",")):
            if not origin or origin == "*":
                continue
            parts = urlsplit(origin)
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
                raise ValueError(
                    f"{origin!r} is not an origin: give scheme://host[:port], no path,"
                    " comma-separated"
                )
        return value

    @field_validator("database_replica_urls")
    @classmethod
    def _check_replica_urls(cls, value: str) -> str:
        for url in (part.strip() for part in value.split(",")):
            if url and urlsplit(url).scheme not in {"postgres", "postgresql"}:
                raise ValueError(f"{url!r} is not a postgresql:// URL (comma-separated URLs)")
        return value

    @property
    def replica_urls(self) -> list[str]:
        return [url.strip() for url in self.database_replica_urls.split(",") if url.strip()]

    def queue_url(self, redis_url: str) -> str:
        """Where the job queues live: REDIS_QUEUE_URL, or the given REDIS_URL."""
        return self.redis_queue_url or redis_url

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_allow_origins.split(",") if o.strip()]

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else self.environment != "production"

    @property
    def introspection_enabled(self) -> bool:
        if self.graphql_introspection is not None:
            return self.graphql_introspection
        return self.environment != "production"

    @property
    def proxy_networks(self) -> list[IPv4Network | IPv6Network]:
        return [
            ip_network(part.strip()) for part in self.trusted_proxies.split(",") if part.strip()
        ]

    @field_validator("action_budgets")
    @classmethod
    def _check_budgets(cls, value: str) -> str:
        parse_budgets(value)  # raises ValueError saying what is wrong
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            try:
                ip_network(part)
            except ValueError:
                raise ValueError(
                    f"{part!r} is not an address or network: give e.g. 10.0.0.5,10.1.0.0/16"
                ) from None
        return value

    @property
    def uses_s3(self) -> bool:
        return bool(self.s3_bucket)


def load_settings() -> Settings:
    """Read the environment, turning pydantic's report into one readable ConfigError."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper() or "settings"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"Config '{name}' is malformed: {message}.")
        raise ConfigError("\n".join(problems)) from None

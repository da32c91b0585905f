"""Settings shared by every service, read from the environment with pydantic-settings.

Shared settings use the ``DEVZONES_`` prefix (``DEVZONES_ENV``, ``DEVZONES_DATA_DIR``,
``DEVZONES_JWT_SECRET``, ``DEVZONES_CORS_ORIGINS``). Each service's own database is
``<SERVICE>_DATABASE_URL`` and the services find each other through ``REGISTRY_URL``,
``METRICS_URL``, ``ASSESSMENT_URL`` and ``PERMITS_URL``.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from libs.domain.permits.webhook_policy import WebhookPolicy, policy_from

SERVICES = ("registry", "metrics", "assessment", "permits")
PORT_OFFSETS = {"registry": 1, "metrics": 2, "assessment": 3, "permits": 4}
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_ORIGIN = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[^/\s:\[\]]+)(:[0-9]{1,5})?", re.IGNORECASE)


class ServiceSettings(BaseSettings):
    """Settings every service has; subclasses name the service and add their own."""

    model_config = SettingsConfigDict(env_prefix="DEVZONES_", extra="ignore", populate_by_name=True)

    service: ClassVar[str] = "service"

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    jwt_secret: SecretStr | None = Field(
        None, description="HS256 signing key; generated in the data dir in development."
    )
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    oidc_issuer: str | None = Field(
        None,
        description=(
            "Issuer URL of the city's OpenID Connect provider (`DEVZONES_OIDC_ISSUER`); when set, tokens are "
            "verified against its published keys (JWKS) and HS256 tokens are refused."
        ),
    )
    oidc_jwks_url: str | None = Field(
        None,
        description="The provider's JWKS URL, instead of discovering it from the issuer (`DEVZONES_OIDC_JWKS_URL`).",
    )
    oidc_audience: str | None = Field(
        None, description="The audience a token's `aud` must contain (`DEVZONES_OIDC_AUDIENCE`); required with OIDC."
    )
    oidc_roles_claim: str = Field("roles", min_length=1, description="Dotted path to the token's list of roles.")
    oidc_division_claim: str = Field("division", min_length=1, description="Dotted path to the county claim.")
    oidc_zone_claim: str = Field("zone", min_length=1, description="Dotted path to the zone claim.")
    oidc_department_claim: str = Field("department", min_length=1, description="Dotted path to the department claim.")
    oidc_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["RS256", "ES256"],
        description="Asymmetric algorithms accepted from the provider (comma-separated).",
    )
    oidc_leeway_seconds: int = Field(30, ge=0, le=300, description="Clock skew allowed on `exp`, `nbf` and `iat`.")
    oidc_refetch_interval_seconds: float = Field(
        30.0,
        gt=0,
        description="At most one JWKS fetch per interval for tokens whose `kid` is unknown (or after a failed fetch).",
    )
    oidc_keys_max_age_seconds: float = Field(
        600.0, gt=0, description="How long fetched keys are used before they are fetched again (kept if that fails)."
    )
    oidc_timeout_seconds: float = Field(5.0, gt=0, description="Timeout of each discovery or JWKS request.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Browser origins allowed to call the APIs (`DEVZONES_CORS_ORIGINS`: comma-separated or a JSON "
            "list; `devzones up --cors-origin`); none by default, so no CORS headers are sent."
        ),
    )
    max_body_bytes: int = Field(1_048_576, gt=0)
    rate_limit: str | None = Field(
        "100/second;3000/minute",
        description="Per-client request limits (`limits` notation, `;`-separated); `off` disables them.",
    )
    log_level: str = "INFO"
    log_json: bool = True
    log_stream: Literal["stderr", "stdout"] = Field(
        "stderr",
        description="Where logs go (`DEVZONES_LOG_STREAM`): standard error for `devzones up` and a "
        "terminal, standard output in a container (the compose file sets it).",
    )
    otel: bool = Field(
        False,
        description=(
            "FastAPI's native OpenTelemetry spans, metrics and logs (`DEVZONES_OTEL`). Off by default: "
            "the services export Prometheus metrics at /metrics and JSON logs with request ids, and the "
            "check for configured OpenTelemetry providers would otherwise run on every request."
        ),
    )
    database_url: str | None = None
    db_pool_size: int = Field(
        10,
        ge=1,
        le=100,
        description=(
            "PostgreSQL connections each process keeps (`DEVZONES_DB_POOL_SIZE`); it opens up to as many again "
            "under load, so one process holds at most twice this (docs/operations.md#connections)."
        ),
    )
    http_timeout_seconds: float = Field(5.0, gt=0)
    shutdown_timeout_seconds: float = Field(
        20.0,
        gt=0,
        description=(
            "On SIGTERM, how long requests in flight may take to finish before they are cancelled "
            "(`DEVZONES_SHUTDOWN_TIMEOUT_SECONDS`); keep it below the orchestrator's grace period "
            "(compose's `stop_grace_period`), which then kills the process."
        ),
    )

    registry_url: str = Field("http://127.0.0.1:8001", validation_alias=AliasChoices("REGISTRY_URL", "registry_url"))
    metrics_url: str = Field("http://127.0.0.1:8002", validation_alias=AliasChoices("METRICS_URL", "metrics_url"))
    assessment_url: str = Field(
        "http://127.0.0.1:8003", validation_alias=AliasChoices("ASSESSMENT_URL", "assessment_url")
    )
    permits_url: str = Field("http://127.0.0.1:8004", validation_alias=AliasChoices("PERMITS_URL", "permits_url"))

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """``DEVZONES_CORS_ORIGINS`` is a JSON list (what ``devzones up --cors-origin`` writes) or
        comma-separated origins (what a person types)."""
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)  # a JSONDecodeError is a ValueError: the service refuses to start
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        """A browser sends ``Origin: scheme://host[:port]`` and CORS compares it as a string, so an
        origin written with a path or a trailing slash would never match: refused at start-up
        rather than silently blocking the frontend. ``*`` is taken only when written out."""
        return [browser_origin(origin) for origin in origins]

    @field_validator("oidc_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            return [a.strip() for a in value.split(",") if a.strip()]
        return value

    @field_validator("oidc_algorithms")
    @classmethod
    def _check_algorithms(cls, algorithms: list[str]) -> list[str]:
        """Only asymmetric algorithms: ``none`` or an HMAC algorithm would let anyone holding the
        provider's public key (everyone) sign tokens (algorithm confusion)."""
        if not algorithms:
            raise ValueError("DEVZONES_OIDC_ALGORITHMS names no algorithm")
        for alg in algorithms:
            if alg not in ASYMMETRIC_ALGORITHMS:
                raise ValueError(
                    f"not an asymmetric JWS algorithm: {alg!r} (allowed: {', '.join(ASYMMETRIC_ALGORITHMS)})"
                )
        return algorithms

    @model_validator(mode="after")
    def _check_oidc(self) -> ServiceSettings:
        """With OIDC, the issuer and the audience are both checked on every token: neither may be missing."""
        if self.oidc_enabled and not (self.oidc_issuer and self.oidc_audience):
            raise ValueError("OIDC needs both DEVZONES_OIDC_ISSUER and DEVZONES_OIDC_AUDIENCE")
        return self

    @property
    def oidc_enabled(self) -> bool:
        """Whether tokens come from an OpenID Connect provider rather than the shared HS256 key."""
        return bool(self.oidc_issuer or self.oidc_jwks_url)

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{self.service}.db').resolve()}"


def browser_origin(value: str) -> str:
    """``value`` if it is ``*`` or an origin as a browser sends it (``scheme://host[:port]``, in
    lower case as browsers write it: CORS compares it as a string), else ValueError."""
    if value != "*" and not _ORIGIN.fullmatch(value):
        raise ValueError(f"not a browser origin (scheme://host[:port], no path, no trailing slash): {value!r}")
    return value.lower()


def _db_field(service: str) -> object:
    return Field(
        None,
        validation_alias=AliasChoices(f"{service.upper()}_DATABASE_URL", "database_url"),
        description=f"SQLAlchemy URL of the {service} database.",
    )


class RegistrySettings(ServiceSettings):
    """Settings of the registry service."""

    service: ClassVar[str] = "registry"
    database_url: str | None = _db_field("registry")  # type: ignore[assignment]
    # The hot zone reads from an in-memory copy of the projection (services/registry/fast_paths);
    # off, every read goes to SQL: the plain path the fast one is held to, and a way out if the
    # copy were ever suspected.
    memory_index: bool = Field(
        True,
        validation_alias=AliasChoices("REGISTRY_MEMORY_INDEX", "memory_index"),
        description="Answer the hot zone reads from an in-memory index (`REGISTRY_MEMORY_INDEX`).",
    )


class MetricsSettings(ServiceSettings):
    """Settings of the metrics service."""

    service: ClassVar[str] = "metrics"
    database_url: str | None = _db_field("metrics")  # type: ignore[assignment]
    max_body_bytes: int = Field(
        32 * 1_048_576, gt=0, validation_alias=AliasChoices("METRICS_MAX_BODY_BYTES", "max_body_bytes")
    )
    # The push's speculative COPY of a batch of new values (services/metrics/observations/fast_paths/copy.py);
    # off, every batch takes the plain path, which answers and stores the same, only slower.
    fast_copy: bool = Field(True, validation_alias=AliasChoices("METRICS_FAST_COPY", "fast_copy"))


class AssessmentSettings(ServiceSettings):
    """Settings of the assessment service."""

    service: ClassVar[str] = "assessment"
    database_url: str | None = _db_field("assessment")  # type: ignore[assignment]
    # A national run's inputs hold 100,000 values: orjson writes their canonical JSON several times
    # faster where it provably gives the standard library's bytes. Off, the standard library always
    # does (the same bytes; tests/assessment/test_fast_paths.py holds the two paths to each other).
    fast_canonical_json: bool = Field(
        True,
        validation_alias=AliasChoices("ASSESSMENT_FAST_CANONICAL_JSON", "fast_canonical_json"),
        description="Let orjson write canonical JSON where it gives the same bytes as the standard library.",
    )


class PermitsSettings(ServiceSettings):
    """Settings of the permits service."""

    service: ClassVar[str] = "permits"
    database_url: str | None = _db_field("permits")  # type: ignore[assignment]
    max_body_bytes: int = Field(
        16 * 1_048_576, gt=0, validation_alias=AliasChoices("PERMITS_MAX_BODY_BYTES", "max_body_bytes")
    )
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("PERMITS_WEBHOOK_ALLOWED_HOSTS", "webhook_allowed_hosts"),
        description="Comma-separated hosts webhooks may target (`.example.gov.cn` for a whole domain); empty: any.",
    )
    webhook_private_targets: bool | None = Field(
        None,
        validation_alias=AliasChoices("PERMITS_WEBHOOK_PRIVATE_TARGETS", "webhook_private_targets"),
        description="Allow private/loopback webhook targets; default: allowed except in production.",
    )
    # The fast paths below are each held to the plain path by a differential test
    # (tests/permits/test_fast_paths.py, tests/permits/test_hot_intake.py); switching one off
    # changes speed, never an answer or a stored row.
    hot_intake: bool = Field(
        True,
        validation_alias=AliasChoices("PERMITS_HOT_INTAKE", "hot_intake"),
        description="Serve `POST /v1/applications` as a hot route (no FastAPI routing or dependency solving).",
    )
    group_commit: bool = Field(
        True,
        validation_alias=AliasChoices("PERMITS_GROUP_COMMIT", "group_commit"),
        description="On PostgreSQL, write concurrent intakes together (one statement); off: each in its request.",
    )
    one_statement_writes: bool = Field(
        True,
        validation_alias=AliasChoices("PERMITS_ONE_STATEMENT_WRITES", "one_statement_writes"),
        description="On PostgreSQL, insert a change's rows of several tables in one statement; off: one per table.",
    )

    today: date | None = Field(
        None,
        validation_alias=AliasChoices("PERMITS_TODAY", "today"),
        description=(
            "A fixed date the service takes for today (`PERMITS_TODAY`, ISO date), for drills and tests of "
            "deadlines and the overdue sweep across processes; refused in production. Default: the date in China."
        ),
    )

    @model_validator(mode="after")
    def _no_fixed_today_in_production(self) -> PermitsSettings:
        if self.today is not None and self.env == "production":
            raise ValueError("PERMITS_TODAY fixes the service's clock and is refused with DEVZONES_ENV=production")
        return self

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    @property
    def webhook_policy(self) -> WebhookPolicy:
        """The webhook delivery policy these settings describe."""
        private = self.webhook_private_targets
        return policy_from(self.webhook_allowed_hosts, self.env != "production" if private is None else private)


SETTINGS_CLASSES: dict[str, type[ServiceSettings]] = {
    "registry": RegistrySettings,
    "metrics": MetricsSettings,
    "assessment": AssessmentSettings,
    "permits": PermitsSettings,
}

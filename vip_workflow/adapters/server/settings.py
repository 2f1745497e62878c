"""The service's settings: the ``server:`` section of the workspace's ``vip.yaml``.

::

    server:
      max_body_mb: 20               # larger request bodies get 413
      page_size: 50                 # default page of the inbox and other lists (max 500)
      token_cache_seconds: 5        # a worker trusts a checked API token this long
      session_secret: "…"           # signs the workbench's cookies (default: drawn at start)
      session_hours: 12             # how long a workbench sign-in lasts
      titles:                       # process/step titles and event names in the other language
        挽留案例: {en: Retention case}
      job_heartbeat_seconds: 5      # a worker running a background job says so this often
      job_stale_seconds: 60         # a job silent this long is failed (its worker is gone)
      oidc:                         # bearer JWTs of this issuer (optional)
        issuer: https://login.example.com/realms/crm
        jwks_url: https://login.example.com/realms/crm/protocol/openid-connect/certs
        audience: vip-workflow
        user_claim: preferred_username
        roles_claim: groups
        role_map: {"/crm/key-account": account_manager}
        client_id: vip-workbench    # sign-in in the browser (authorization code + PKCE)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["OidcSettings", "ServerSettings", "settings_from"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OidcSettings(_Strict):
    """Bearer JWTs signed by an OpenID Connect issuer, checked against its JWKS."""

    issuer: str
    jwks_url: str | None = Field(default=None, description=(
        "Where the issuer's signing keys are (default: ISSUER/.well-known/jwks.json)."))
    audience: str | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    user_claim: str = "sub"
    roles_claim: str = "roles"
    role_map: dict[str, str] | None = Field(default=None, description=(
        "Claim value -> role; values not in the map are dropped. None: roles as given."))
    leeway_seconds: int = 30
    client_id: str | None = Field(default=None, description=(
        "The workbench's client id at the issuer: set, the sign-in page offers the "
        "authorization-code flow with PKCE (ID tokens are checked for this audience)."))
    client_secret: str | None = Field(default=None, description=(
        "The client's secret, for an issuer that registers the workbench as a confidential "
        "client (sent with HTTP Basic to the token endpoint); PKCE is used either way."))
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile"])
    redirect_url: str | None = Field(default=None, description=(
        "The callback address registered at the issuer (default: this service's "
        "/web/login/oidc/callback as the browser reached it)."))
    discovery_url: str | None = Field(default=None, description=(
        "Where the issuer's metadata is (default: "
        "ISSUER/.well-known/openid-configuration)."))

    @property
    def keys_url(self) -> str:
        """The JWKS address."""
        return self.jwks_url or self.issuer.rstrip("/") + "/.well-known/jwks.json"

    @property
    def metadata_url(self) -> str:
        """The OpenID Connect discovery document's address."""
        return self.discovery_url or (self.issuer.rstrip("/")
                                      + "/.well-known/openid-configuration")


class ServerSettings(_Strict):
    """What ``vip-workflow serve`` reads from ``vip.yaml``'s ``server:`` section."""

    max_body_mb: float = Field(default=20.0, gt=0)
    page_size: int = Field(default=50, ge=1, le=500)
    token_cache_seconds: float = Field(default=5.0, ge=0, description=(
        "How long a worker trusts an API token it has checked (a revoked token stops "
        "working within this time; 0: check the database on every request)."))
    oidc: OidcSettings | None = None
    session_secret: str | None = Field(default=None, min_length=32, description=(
        "The key that signs the workbench's session and CSRF cookies (at least 32 "
        "characters; also VIP_WORKFLOW_SESSION_SECRET). Unset: vip-workflow serve draws a "
        "random key for all its workers, so sessions end when the service restarts."))
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30, description=(
        "How long a workbench sign-in lasts."))
    titles: dict[str, dict[Literal["zh_CN", "en"], str]] = Field(
        default_factory=dict, description=(
            "The workbench's translations of process and step titles and event names that "
            "the definitions give in one language only: text or name -> language -> text, "
            "such as {挽留案例: {en: Retention case}}."))

    job_heartbeat_seconds: float = Field(default=5.0, gt=0, le=3600, description=(
        "How often a worker running a background job writes its heartbeat."))
    job_stale_seconds: float = Field(default=60.0, gt=0, description=(
        "A queued or running job whose heartbeat is older than this is reported failed "
        "(its worker is gone), and its period may be started again."))

    @model_validator(mode="after")
    def _beats_within_the_stale_limit(self) -> ServerSettings:
        if self.job_heartbeat_seconds >= self.job_stale_seconds:
            raise ValueError(
                f"job_heartbeat_seconds ({self.job_heartbeat_seconds:g}) must be less than "
                f"job_stale_seconds ({self.job_stale_seconds:g}), or running jobs read stale")
        return self

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)


def settings_from(section: dict[str, Any] | None) -> ServerSettings:
    """The settings of a ``server:`` section (``ConfigError`` naming the bad field)."""
    from pydantic import ValidationError

    from vip_workflow.errors import ConfigError

    try:
        return ServerSettings.model_validate(section or {})
    except ValidationError as exc:
        problems = "; ".join(f"server.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             for e in exc.errors())
        raise ConfigError(f"vip.yaml: {problems}") from None

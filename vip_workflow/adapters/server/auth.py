"""Who is calling: ``Authorization: Bearer`` with an API token or an OIDC JWT → an ``Actor``.

The service decides nothing else: every request acts as the actor, and the engine decides
what the actor may do (``PermissionDenied`` → 403). No or a bad credential → 401. The token
is never logged and never put in an error body.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Any

import jwt
from starlette.concurrency import run_in_threadpool

from vip_workflow.adapters.server.settings import OidcSettings
from vip_workflow.adapters.server.tokens import PREFIX, TokenStore, digest
from vip_workflow.domain.instances import Actor

__all__ = ["Authenticator", "Unauthorized"]


class Unauthorized(Exception):
    """No credential, or one that is not valid (401). The message never holds the token."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _roles_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.replace(",", " ").split()
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    return []


class _OidcVerifier:
    """Checks JWTs against the issuer's JWKS (fetched on demand, cached by PyJWT)."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._keys = jwt.PyJWKClient(settings.keys_url, cache_keys=True, lifespan=300)

    def actor(self, token: str, *, audience: str | None = None,
              nonce: str | None = None) -> Actor:
        """The actor of a JWT of the issuer: for ``audience`` (default: the configured one;
        an ID token's is the client id), and carrying ``nonce`` when one is given."""
        s = self.settings
        audience = audience or s.audience
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token, key.key, algorithms=s.algorithms, issuer=s.issuer,
                audience=audience, leeway=s.leeway_seconds,
                options={"verify_aud": audience is not None, "require": ["exp", "iss"]})
        except jwt.PyJWKClientError as exc:
            raise Unauthorized(f"the token's signing key cannot be found ({exc})") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"the token is not valid: {exc}") from None
        if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise Unauthorized("the ID token is not the answer to this sign-in (nonce)")
        user = claims.get(s.user_claim)
        if not isinstance(user, str) or not user:
            raise Unauthorized(f"the token has no {s.user_claim!r} claim")
        roles = _roles_of(claims.get(s.roles_claim, []))
        if s.role_map is not None:
            roles = [s.role_map[r] for r in roles if r in s.role_map]
        return Actor(user, roles=roles)


class Authenticator:
    """Turns an ``Authorization`` header into an ``Actor`` (or raises ``Unauthorized``)."""

    def __init__(self, tokens: TokenStore, oidc: OidcSettings | None = None) -> None:
        self.tokens = tokens
        self._oidc = _OidcVerifier(oidc) if oidc is not None else None

    async def actor_async(self, authorization: str | None) -> Actor:
        """``actor`` for the event loop: an API token this process checked moments ago is
        answered from memory; anything that needs the database or the issuer's keys runs in
        the thread pool."""
        if authorization:
            scheme, _, credential = authorization.partition(" ")
            credential = credential.strip()
            if scheme.lower() == "bearer" and credential.startswith(PREFIX):
                known = self.tokens.cached(digest(credential))
                if known is not None:
                    return known
        return await run_in_threadpool(self.actor, authorization)

    def actor(self, authorization: str | None) -> Actor:
        """The actor of the header's bearer credential."""
        if not authorization:
            raise Unauthorized("no credential: send Authorization: Bearer <token>")
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthorized("use the Bearer scheme: Authorization: Bearer <token>")
        if credential.startswith(PREFIX):
            actor = self.tokens.actor(credential)
            if actor is None:
                raise Unauthorized("the API token is unknown, revoked or expired")
            return actor
        if credential.count(".") == 2 and self._oidc is not None:
            return self._oidc.actor(credential)
        raise Unauthorized("the credential is neither an API token nor an accepted JWT")

    def oidc_actor(self, token: str, *, audience: str | None = None,
                   nonce: str | None = None) -> Actor:
        """The actor of a JWT of the configured issuer (an ID token: ``audience`` is the
        client id, ``nonce`` the sign-in's)."""
        if self._oidc is None:
            raise Unauthorized("no OIDC issuer is configured")
        return self._oidc.actor(token, audience=audience, nonce=nonce)

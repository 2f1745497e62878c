"""API tokens: made once, shown once, stored as SHA-256 hashes in the workspace's database.

A token reads ``vwt_<id>_<secret>``; the ``id`` is public (``token list`` shows it,
``token revoke ID`` takes it), the whole token is hashed. A lookup hashes what the client sent
and compares it with the stored hash; nothing that could rebuild a token is ever stored.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
import sqlalchemy as sa

from vip_workflow.adapters.storage._schema import api_tokens
from vip_workflow.domain.instances import Actor
from vip_workflow.errors import ConfigError, NotFoundError

__all__ = ["PREFIX", "TokenInfo", "TokenStore", "digest"]

PREFIX = "vwt_"


def digest(token: str) -> str:
    """The SHA-256 (hex) a token is stored as."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


@attrs.frozen
class TokenInfo:
    """What is known of a token, never the token itself."""

    id: str
    user: str
    roles: tuple[str, ...]
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None

    def is_live(self, now: datetime) -> bool:
        """Neither revoked nor expired at ``now``."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or datetime.fromisoformat(self.expires_at) > now


def _info(row: Any) -> TokenInfo:
    return TokenInfo(id=row.id, user=row.user, roles=tuple(json.loads(row.roles)),
                     created_at=row.created_at, expires_at=row.expires_at,
                     revoked_at=row.revoked_at)


class TokenStore:
    """Tokens in the ``vw_api_token`` table of a SQL database, or in memory (``engine=None``:
    a ``memory://`` workspace; its tokens live as long as the process)."""

    def __init__(self, engine: sa.Engine | None, *, cache_seconds: float = 0.0) -> None:
        self._engine = engine
        #: how long a found live token is trusted without asking the database again (a
        #: revocation takes effect within this time; 0: ask every time)
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Actor]] = {}  # hash -> (trusted until, actor)
        self._memory: dict[str, tuple[str, TokenInfo]] = {}  # id -> (hash, info)
        self._lock = threading.Lock()

    def create(self, user: str, roles: Sequence[str], *,
               expires_at: datetime | None = None) -> tuple[TokenInfo, str]:
        """A new token for ``user`` with ``roles``: its info and the token (shown once)."""
        if not user.strip():
            raise ConfigError("a token needs a user")
        token_id = secrets.token_hex(6)
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        info = TokenInfo(id=token_id, user=user, roles=tuple(sorted(set(roles))),
                         created_at=_text(_now()) or "", expires_at=_text(expires_at))
        if self._engine is None:
            with self._lock:
                self._memory[token_id] = (digest(token), info)
        else:
            with self._engine.begin() as c:
                c.execute(api_tokens.insert().values(
                    id=info.id, hash=digest(token), user=info.user,
                    roles=json.dumps(list(info.roles), ensure_ascii=False),
                    created_at=info.created_at, expires_at=info.expires_at))
        return info, token

    def list(self) -> list[TokenInfo]:
        """Every token's info, oldest first."""
        if self._engine is None:
            return sorted((i for _, i in self._memory.values()), key=lambda i: i.created_at)
        with self._engine.connect() as c:
            rows = c.execute(api_tokens.select().order_by(api_tokens.c.created_at,
                                                          api_tokens.c.id))
            return [_info(r) for r in rows]

    def revoke(self, token_id: str) -> TokenInfo:
        """Revoke the token ``token_id`` (``NotFoundError`` if there is none)."""
        when = _text(_now())
        if self._engine is None:
            with self._lock:
                if token_id not in self._memory:
                    raise NotFoundError(f"no API token with id {token_id!r}")
                hashed, info = self._memory[token_id]
                info = attrs.evolve(info, revoked_at=info.revoked_at or when)
                self._memory[token_id] = (hashed, info)
                self._cache.clear()
                return info
        with self._engine.begin() as c:
            c.execute(api_tokens.update().where(
                api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None)
            ).values(revoked_at=when))
            row = c.execute(api_tokens.select().where(api_tokens.c.id == token_id)).first()
        if row is None:
            raise NotFoundError(f"no API token with id {token_id!r}")
        self._cache.clear()  # this process forgets at once; others within cache_seconds
        return _info(row)

    def actor(self, token: str) -> Actor | None:
        """The actor a live token stands for, or ``None``."""
        return self.actor_of_digest(digest(token))

    def actor_of_digest(self, hashed: str) -> Actor | None:
        """The actor of the live token whose SHA-256 is ``hashed`` (a web session keeps the
        digest, never the token), or ``None``."""
        cached = self.cached(hashed)
        if cached is not None:
            return cached
        found = self._lookup(hashed)
        if found is not None and self.cache_seconds > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[hashed] = (time.monotonic() + self.cache_seconds, found)
        return found

    def cached(self, hashed: str) -> Actor | None:
        """The actor of ``hashed`` if this process checked it less than ``cache_seconds``
        ago (no database: safe to call on the event loop), else ``None``."""
        cached = self._cache.get(hashed)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        return None

    def _lookup(self, hashed: str) -> Actor | None:
        info: TokenInfo | None = None
        if self._engine is None:
            info = next((i for h, i in self._memory.values() if secrets.compare_digest(h, hashed)),
                        None)
        else:
            with self._engine.connect() as c:
                row = c.execute(api_tokens.select().where(api_tokens.c.hash == hashed)).first()
            info = None if row is None else _info(row)
        if info is None or not info.is_live(_now()):
            return None
        return Actor(info.user, roles=info.roles)

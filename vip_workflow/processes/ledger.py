"""Ledger hashes on the engine's hot path.

``entry_hash`` gives exactly what ``vip_workflow.domain.instances.entry_hash`` gives (which
``verify_ledger`` checks), but builds the common entry — no ``data``, text fields only — by
hand instead of through ``json.dumps(sort_keys=True, default=...)``, whose set-up costs more
than the hash itself. Any other entry takes the domain function.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from json.encoder import encode_basestring  # the C encoder json.dumps(ensure_ascii=False) uses
from typing import Any

from vip_workflow.domain.instances import entry_hash as _slow_entry_hash

__all__ = ["entry_hash"]

_sha256 = hashlib.sha256


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def entry_hash(
    instance_id: str, prev_hash: str, seq: int, at: datetime, actor: str,
    on_behalf_of: str | None, action: str, source: str | None, dest: str | None,
    comment: str, data: Mapping[str, Any] | None,
) -> str:
    """SHA-256 over the entry's fields, the previous hash and the instance id (hex), as
    ``vip_workflow.domain.instances.entry_hash`` computes it."""
    if data or type(seq) is not int or not all(
        type(v) is str for v in (instance_id, prev_hash, actor, action, comment)
    ) or not all(v is None or type(v) is str for v in (on_behalf_of, source, dest)):
        return _slow_entry_hash(instance_id, prev_hash, seq, at, actor, on_behalf_of, action,
                                source, dest, comment, data)
    payload = (
        f"[{encode_basestring(instance_id)},{encode_basestring(prev_hash)},{seq},"
        f"{encode_basestring(at.isoformat())},{encode_basestring(actor)},{_text(on_behalf_of)},"
        f"{encode_basestring(action)},{_text(source)},{_text(dest)},"
        f"{encode_basestring(comment)},null]"
    )
    return _sha256(payload.encode()).hexdigest()

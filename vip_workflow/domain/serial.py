"""Instances, ledger entries and notices as JSON-friendly dicts, for storage adapters.

Times become ISO 8601 strings and come back as aware datetimes; a round trip preserves
equality and every ledger hash. An instance row leaves out its history: adapters store ledger
entries in their own table and pass them back to ``instance_from_row``. Its ``work`` (the keys
of who may pick the work up) is a sorted JSON list; an adapter that indexes the keys in a table
of its own drops that column and passes them back as ``work=``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from vip_workflow.domain.instances import (
    Delegation,
    GateRound,
    LedgerEntry,
    Notice,
    ProcessInstance,
    Timer,
    Vote,
)

__all__ = [
    "dumps",
    "entry_from_row",
    "entry_to_row",
    "instance_from_row",
    "instance_to_row",
    "loads",
    "notice_from_row",
    "notice_to_row",
]


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


def dumps(value: Any) -> str:
    """Compact, key-sorted JSON (dates as ISO strings)."""
    return json.dumps(value, default=_default, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))


def loads(text: str | None) -> Any:
    """The inverse of ``dumps`` (``None`` stays ``None``)."""
    return None if text is None else json.loads(text)


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _gate_to_dict(gate: GateRound | None) -> dict[str, Any] | None:
    if gate is None:
        return None
    return {
        "state": gate.state, "requester": gate.requester,
        "requester_on_behalf_of": gate.requester_on_behalf_of, "origin": gate.origin,
        "requested_at": gate.requested_at.isoformat(), "levels": list(gate.levels),
        "position": gate.position,
        "votes": [
            {"level": v.level, "seat": v.seat, "actor": v.actor, "on_behalf_of": v.on_behalf_of,
             "decision": v.decision, "at": v.at.isoformat(), "comment": v.comment}
            for v in gate.votes
        ],
        "delegations": [
            {"principal": d.principal, "delegate": d.delegate, "until": d.until.isoformat(),
             "roles": sorted(d.roles)}
            for d in gate.delegations
        ],
    }


def _gate_from_dict(data: Mapping[str, Any] | None) -> GateRound | None:
    if data is None:
        return None
    return GateRound(
        state=data["state"], requester=data["requester"],
        requester_on_behalf_of=data["requester_on_behalf_of"], origin=data["origin"],
        requested_at=_time(data["requested_at"]), levels=tuple(data["levels"]),
        position=data["position"],
        votes=tuple(
            Vote(v["level"], v["seat"], v["actor"], v["on_behalf_of"], v["decision"],
                 _time(v["at"]), v["comment"])
            for v in data["votes"]
        ),
        delegations=tuple(
            Delegation(d["principal"], d["delegate"], _time(d["until"]), frozenset(d["roles"]))
            for d in data["delegations"]
        ),
    )


def instance_to_row(instance: ProcessInstance) -> dict[str, Any]:
    """The instance without its history; ``context``, ``gate``, ``timers`` and ``work`` as JSON
    text, ``next_due`` as an ISO string (index it to find due instances)."""
    due = instance.next_due
    return {
        "id": instance.id,
        "definition": instance.definition,
        "definition_version": instance.definition_version,
        "state": instance.state,
        "context": dumps(dict(instance.context)),
        "version": instance.version,
        "created_at": instance.created_at.isoformat(),
        "gate": dumps(_gate_to_dict(instance.gate)),
        "timers": dumps([[t.at.isoformat(), t.kind, t.value] for t in instance.timers]),
        "assignee": instance.assignee,
        "escalated_to": instance.escalated_to,
        "work": dumps(sorted(instance.work)),
        "parent": instance.parent,
        "waiting_for": instance.waiting_for,
        "final": instance.final,
        "next_due": due.isoformat() if due else None,
    }


def instance_from_row(
    row: Mapping[str, Any], history: Iterable[LedgerEntry], *,
    work: Iterable[str] | None = None,
) -> ProcessInstance:
    """The instance from ``instance_to_row`` output and its ledger entries.

    ``work`` gives the instance's keys when the adapter keeps them apart (else the row's
    ``work`` column is read; a row without ``work`` or ``escalated_to``, as an adapter of an
    earlier release wrote it, gives none).
    """
    if work is None:
        work = loads(row.get("work")) or ()
    return ProcessInstance(
        id=row["id"],
        definition=row["definition"],
        definition_version=int(row["definition_version"]),
        state=row["state"],
        context=loads(row["context"]),
        version=int(row["version"]),
        created_at=_time(row["created_at"]),
        history=tuple(history),
        gate=_gate_from_dict(loads(row["gate"])),
        timers=tuple(Timer(_time(at), kind, value) for at, kind, value in loads(row["timers"])),
        assignee=row["assignee"],
        escalated_to=row.get("escalated_to"),
        work=frozenset(work),
        parent=row["parent"],
        waiting_for=row["waiting_for"],
        final=bool(row["final"]),
    )


def entry_to_row(instance_id: str, entry: LedgerEntry) -> dict[str, Any]:
    """One ledger entry as a row of the ledger table."""
    return {
        "instance_id": instance_id, "seq": entry.seq, "at": entry.at.isoformat(),
        "actor": entry.actor, "on_behalf_of": entry.on_behalf_of, "action": entry.action,
        "source": entry.source, "dest": entry.dest, "comment": entry.comment,
        "data": None if entry.data is None else dumps(dict(entry.data)),
        "prev_hash": entry.prev_hash, "hash": entry.hash,
    }


def entry_from_row(row: Mapping[str, Any]) -> LedgerEntry:
    """The inverse of ``entry_to_row``."""
    return LedgerEntry(
        int(row["seq"]), _time(row["at"]), row["actor"], row["on_behalf_of"], row["action"],
        row["source"], row["dest"], row["comment"], loads(row["data"]), row["prev_hash"],
        row["hash"],
    )


def notice_to_row(notice: Notice) -> dict[str, Any]:
    """A notice as a row of the outbox table."""
    return {
        "kind": notice.kind, "instance_id": notice.instance_id, "process": notice.process,
        "state": notice.state, "at": notice.at.isoformat(), "roles": dumps(list(notice.roles)),
        "users": dumps(list(notice.users)),
        "data": None if notice.data is None else dumps(dict(notice.data)),
    }


def notice_from_row(row: Mapping[str, Any]) -> Notice:
    """The inverse of ``notice_to_row``."""
    return Notice(
        row["kind"], row["instance_id"], row["process"], row["state"], _time(row["at"]),
        tuple(loads(row["roles"])), tuple(loads(row["users"])), loads(row["data"]),
    )

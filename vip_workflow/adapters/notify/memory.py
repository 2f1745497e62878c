"""A notifier that keeps every notice in a list: for tests, notebooks and demos."""

from __future__ import annotations

from vip_workflow.domain.instances import Notice

__all__ = ["MemoryNotifier"]


class MemoryNotifier:
    """Collects notices in ``notices``; ``keep`` bounds how many are kept (newest win)."""

    def __init__(self, *, keep: int | None = 10_000) -> None:
        self.notices: list[Notice] = []
        self.keep = keep

    def send(self, notice: Notice, *, key: str | None = None) -> None:
        """Keep the notice (the idempotency ``key`` is not kept)."""
        self.notices.append(notice)
        if self.keep is not None and len(self.notices) > self.keep:
            del self.notices[: len(self.notices) - self.keep]

    def of_kind(self, kind: str) -> list[Notice]:
        """The kept notices of one kind, oldest first."""
        return [n for n in self.notices if n.kind == kind]

    def clear(self) -> None:
        """Forget every kept notice."""
        self.notices.clear()

"""The notifier contract, run against the memory and logging notifiers."""

from __future__ import annotations

import logging

import pytest

import vip_workflow as vw
from vip_workflow.adapters.notify.log import LogNotifier
from vip_workflow.adapters.notify.memory import MemoryNotifier
from vip_workflow.testing.contract import NotifierContract


class TestMemoryNotifier(NotifierContract):
    """MemoryNotifier keeps every notice, up to ``keep``."""

    @pytest.fixture
    def notifier(self):
        return MemoryNotifier()

    def received(self, notifier):
        return notifier.notices

    def test_keep_bounds_the_memory(self):
        """Only the newest ``keep`` notices are kept."""
        notifier = MemoryNotifier(keep=2)
        engine = vw.ProcessEngine(notifier=notifier)
        actor = vw.Actor("u", roles={"account_manager"})
        for i in range(3):
            engine.start("sales", {"customer_id": f"c{i}"}, actor=actor)
        assert len(notifier.notices) == 2


class _ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


class TestLogNotifier(NotifierContract):
    """LogNotifier logs one record per notice, with the notice attached."""

    @pytest.fixture
    def notifier(self):
        logger = logging.getLogger("tests.notices")
        logger.handlers[:] = [_ListHandler()]
        logger.setLevel(logging.INFO)
        logger.propagate = False
        return LogNotifier(logger)

    def received(self, notifier):
        return [record.notice for record in notifier.logger.handlers[0].records]

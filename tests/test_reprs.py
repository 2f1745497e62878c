"""Notebook reprs: definitions and instances drawn, reports summarised, everything escaped."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import vip_workflow as vw
from vip_workflow.cycle.workspace import CycleResult
from vip_workflow.processes.timers import TickReport
from vip_workflow.rules.files.findings import Finding, LintReport
from vip_workflow.work.board import TaskBoard

AM = vw.Actor("am-li", roles={"account_manager"})


@pytest.fixture
def engine() -> vw.ProcessEngine:
    return vw.ProcessEngine()


def _current(svg: str) -> list[str]:
    return re.findall(r"class='state \w+ current' data-state='(\w+)'", svg)


class TestDiagram:
    def test_a_definition_draws_every_state_as_valid_svg(self, engine: vw.ProcessEngine) -> None:
        """The SVG parses as XML and names every state; nothing is highlighted."""
        sales = engine.definition("sales")
        svg = sales.to_svg()
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
        drawn = set(re.findall(r"data-state='(\w+)'", svg))
        assert drawn == set(sales.state_names)
        assert _current(svg) == []

    def test_the_current_state_is_highlighted(self, engine: vw.ProcessEngine) -> None:
        """Exactly the current state carries the highlight; visited ones are tinted."""
        svg = engine.definition("sales").to_svg(current="draft_agreement",
                                                visited=["communication_plan"])
        assert _current(svg) == ["draft_agreement"]
        assert "class='state step visited' data-state='communication_plan'" in svg

    def test_the_html_repr_shows_the_diagram_and_a_short_plain_repr(
            self, engine: vw.ProcessEngine) -> None:
        """_repr_html_ holds the SVG; repr() is one line, not the whole model."""
        sales = engine.definition("sales")
        assert "<svg" in sales._repr_html_()
        assert repr(sales).startswith("<ProcessDefinition 'sales' v1: 9 states")
        assert "\n" not in repr(sales)

    def test_chinese_and_markup_in_a_definition_are_escaped_text(self) -> None:
        """A title with <script> and Chinese shows as text, and the SVG still parses."""
        text = ("kind: process\nname: cn\ntitle: '<script>x</script>审批'\ninitial: draft\n"
                "states:\n  - {name: draft, title: '起草 <b>', owner: account_manager}\n"
                "  - {name: done, final: true}\n"
                "transitions:\n  - {event: finish, source: draft, dest: done}\n")
        definition = vw.load_definition("cn.yaml", text=text)
        page = definition._repr_html_()
        assert "<script>" not in page and "<b>" not in page
        assert "&lt;script&gt;" in page and "起草" in page
        ET.fromstring(definition.to_svg(current="draft"))


class TestInstance:
    def test_an_instance_shows_its_state_on_the_diagram_and_its_ledger(
            self, engine: vw.ProcessEngine) -> None:
        """The diagram highlights the state; the ledger rows and the context are there,
        a <script> in the context is escaped."""
        deal = engine.start("sales", {"customer_id": "<script>alert(1)</script>客户",
                                      "contract_value": 1000}, actor=AM)
        engine.fire(deal.id, "plan_ready", actor=AM, comment="计划好了")
        inst = engine.get(deal.id)
        page = inst._repr_html_()
        assert _current(page) == ["draft_agreement"]
        assert "plan_ready" in page and "计划好了" in page and "am-li" in page
        assert "<script>" not in page and "&lt;script&gt;alert(1)" in page
        assert "ledger verifies</th><td style='text-align:left'>yes" in page

    def test_a_plain_repr_is_one_short_line(self, engine: vw.ProcessEngine) -> None:
        """repr() names the process, the state and the ledger size, not every entry."""
        deal = engine.start("sales", {"customer_id": "G1"}, actor=AM)
        text = repr(engine.get(deal.id))
        assert "sales v1" in text and "'communication_plan'" in text and "1 ledger" in text
        assert len(text) < 200

    def test_a_ledger_entry_has_a_row_and_a_short_repr(self, engine: vw.ProcessEngine) -> None:
        """One entry: a one-row table, a one-line repr."""
        deal = engine.start("sales", {"customer_id": "G1"}, actor=AM)
        entry = engine.get(deal.id).history[0]
        assert "<td style='text-align:left'>start</td>" in entry._repr_html_()
        assert repr(entry).startswith("<LedgerEntry #0 ") and "am-li start" in repr(entry)

    def test_an_instance_of_an_unknown_definition_still_renders(
            self, engine: vw.ProcessEngine) -> None:
        """Without the definition there is no diagram, but the rest shows."""
        import attrs

        deal = engine.start("sales", {"customer_id": "G1"}, actor=AM)
        stranger = attrs.evolve(engine.get(deal.id), definition="nowhere")
        page = stranger._repr_html_()
        assert "<svg" not in page and "load the definition" in page


class TestReports:
    def test_a_tick_report(self) -> None:
        """Counts and instance ids; many ids are cut with a note."""
        report = TickReport(datetime(2026, 10, 6, 9, tzinfo=UTC),
                            tuple(f"i{n}" for n in range(100)), reminders=3)
        page = report._repr_html_()
        assert "reminders" in page and ">3<" in page and "i0" in page and "i99" not in page
        assert "80 more instances" in page
        assert repr(report).startswith("<TickReport 2026-10-06 09:00: 100 instance(s)")

    def test_a_lint_report_plain_and_html(self) -> None:
        """The plain repr counts, the HTML lists the findings escaped."""
        report = LintReport([Finding("error", "x", "bad <b>band</b>", "scheme", 3),
                             Finding("warning", "y", "odd")], path="t.yaml")
        assert repr(report) == "<LintReport t.yaml: 1 error(s), 1 warning(s)>"
        assert repr(LintReport([])) == "<LintReport: no findings>"
        page = report._repr_html_()
        assert "&lt;b&gt;band" in page and "<b>" not in page and "t.yaml:3" in page

    def test_a_task_board(self) -> None:
        """Counts, load per manager and the open tasks."""
        board = TaskBoard(managers=["张三", "li"])
        board.ingest([vw.Signal(customer_id="G1", period=datetime(2026, 9, 1).date(),
                                trigger="spend_drop", family="retain", severity="high",
                                action="call", evidence=())])
        page = board._repr_html_()
        assert "spend_drop" in page and "张三" in page and "G1" in page
        assert repr(board).startswith("<TaskBoard: 1 task(s), 1 open")

    def test_a_big_cycle_result_is_summarised_not_dumped(self, tmp_path: Path) -> None:
        """300 000 customers and changes: the HTML stays small, the repr one line."""
        n = 300_000
        ids = [f"G{i:06d}" for i in range(n)]
        judged = pl.DataFrame({"customer_id": ids, "tier": ["A", "B", "C"] * (n // 3)})
        changes = pl.DataFrame({"customer_id": ids, "old": ["B"] * n, "new": ["A"] * n})
        result = CycleResult("2026-09", "hubei-2006", "1", judged, changes, (), None, None,
                             None, tmp_path, tmp_path / "report.html")
        page = result._repr_html_()
        assert len(page) < 20_000
        assert "300,000" in page and "G000009" in page and "G000010" not in page
        assert "299,990 more changes" in page
        assert len(repr(result)) < 300 and "\n" not in repr(result)


def test_importing_the_package_stays_light() -> None:
    """The HTML helpers and the reprs add nothing heavy to ``import vip_workflow``."""
    code = ("import sys, vip_workflow, vip_workflow._html; "
            "print(sorted(m for m in ('polars', 'networkx', 'pydantic', 'numpy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"

"""The monthly cycle: tiers, history, changes, reviews, outputs; idempotent, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

import vip_workflow as vw
from tests.triggers.helpers import spend_triggers
from vip_workflow.adapters.notify.memory import MemoryNotifier
from vip_workflow.cli.main import app
from vip_workflow.samples import load_sample_portfolio, monthly_portfolios, sample_portfolio

CONFIG = """\
name: test workspace
storage: sqlite:///vip.db
tiers: {preset: hubei-2006}
reports: out
"""


@pytest.fixture
def months() -> dict[str, pl.DataFrame]:
    return monthly_portfolios(load_sample_portfolio().head(400), start="2026-09",
                                 months=2, seed=5)


def _workspace(folder: Path, text: str = CONFIG) -> vw.Workspace:
    (folder / "vip.yaml").write_text(text, encoding="utf-8")
    return vw.Workspace.from_file(folder / "vip.yaml")


def _groups(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"customer_id": pl.String, "importance": pl.String,
                                      "revenue": pl.Float64, "headcount": pl.Int64})




class TestCycle:
    """run_cycle judges, keeps history, finds changes and writes the report."""

    def test_two_cycles_keep_history_and_find_the_changes(
        self, tmp_path: Path, months: dict[str, pl.DataFrame]
    ) -> None:
        """Changes are exactly the customers whose tier differs between the months."""
        workspace = _workspace(tmp_path)
        first, second = (workspace.run_cycle(p, d) for p, d in months.items())
        assert workspace.store.periods() == ["2026-09", "2026-10"]
        assert first.changes.height == 0
        before = dict(first.judged.select("customer_id", pl.col("tier").cast(pl.String))
                      .iter_rows())
        after = dict(second.judged.select("customer_id", pl.col("tier").cast(pl.String))
                     .iter_rows())
        expected = {c for c in after if after[c] != before[c]}
        assert set(second.changes.get_column("customer")) == expected
        assert (tmp_path / "vip.db").exists()
        assert {p.name for p in second.outputs.iterdir()} >= {
            "report.html", "tiers.csv", "tiers.parquet", "changes.csv"}
        assert 'data-chart="spec-pareto"' in second.report.read_text(encoding="utf-8")
        assert (second.outputs / "tables" / "pareto.xlsx").exists()

    def test_history_survives_a_new_workspace_on_the_same_database(
        self, tmp_path: Path, months: dict[str, pl.DataFrame]
    ) -> None:
        """A restarted workspace compares with the tiers stored by the last one."""
        period, data = next(iter(months.items()))
        _workspace(tmp_path).run_cycle(period, data)
        again = _workspace(tmp_path)
        customer = data.get_column("customer_id")[0]
        assert again.store.history(customer).get_column("period").to_list() == [period]

    def test_an_important_downgrade_opens_one_review_however_often_it_runs(
        self, tmp_path: Path
    ) -> None:
        """A county government falling from A to C opens a tier review, once."""
        workspace = _workspace(tmp_path)
        workspace.run_cycle("2026-09", _groups([
            {"customer_id": "G1", "importance": "county_gov", "revenue": 0, "headcount": 0},
            {"customer_id": "G2", "importance": "none", "revenue": 20000, "headcount": 0}]))
        october = _groups([
            {"customer_id": "G1", "importance": "none", "revenue": 0, "headcount": 0},
            {"customer_id": "G2", "importance": "none", "revenue": 0, "headcount": 0}])
        result = workspace.run_cycle("2026-10", october)
        assert result.changes.sort("customer").select("customer", "direction").rows() == [
            ("G1", "down"), ("G2", "down")]
        # G1 was important in September's data only: importance is read from this month's
        # data, so only a customer important now counts.
        assert result.reviews == ()
        workspace.run_cycle("2026-11", _groups([
            {"customer_id": "G1", "importance": "county_gov", "revenue": 0, "headcount": 0},
            {"customer_id": "G2", "importance": "none", "revenue": 0, "headcount": 0}]))
        december = _groups([
            {"customer_id": "G1", "importance": "township_gov", "revenue": 0, "headcount": 0},
            {"customer_id": "G2", "importance": "none", "revenue": 0, "headcount": 0}])
        result = workspace.run_cycle("2026-12", december)
        assert result.reviews == ("tier-review:2026-12:G1",)
        review = workspace.engine.get("tier-review:2026-12:G1")
        assert (review.context["requested_tier"], review.context["computed_tier"]) == ("A", "B+")
        rerun = workspace.run_cycle("2026-12", december)
        assert rerun.reviews == result.reviews
        assert workspace.engine.store.find(definition="tier_override") == [
            "tier-review:2026-12:G1"]

    def test_a_manual_override_opens_an_override_approval(self, tmp_path: Path) -> None:
        """Overrides need a second person: the cycle opens the approval."""
        workspace = _workspace(tmp_path)
        data = _groups([{"customer_id": "G7", "importance": "none", "revenue": 0,
                         "headcount": 0}]).with_columns(
            pl.lit("A").alias("override_tier"), pl.lit("li").alias("override_by"),
            pl.lit("provincial party office").alias("override_reason"))
        result = workspace.run_cycle("2026-09", data)
        assert result.reviews == ("tier-override:2026-09:G7",)
        inst = workspace.engine.get("tier-override:2026-09:G7")
        assert inst.context["reason"] == "provincial party office"
        assert inst.context["computed_tier"] == "C"
        assert workspace.run_cycle("2026-10", data).reviews == ()  # the same override: kept
        changed = data.with_columns(pl.lit("A+").alias("override_tier"))
        assert workspace.run_cycle("2026-11", changed).reviews == ("tier-override:2026-11:G7",)

    def test_rerunning_a_period_is_idempotent(
        self, tmp_path: Path, months: dict[str, pl.DataFrame]
    ) -> None:
        """Same tiers, same stored history, same outputs."""
        workspace = _workspace(tmp_path)
        period, data = next(iter(months.items()))
        first = workspace.run_cycle(period, data)
        stored = workspace.store.tiers(period)
        second = workspace.run_cycle(period, data)
        assert workspace.store.tiers(period).equals(stored)
        assert first.judged.equals(second.judged)
        assert pl.read_csv(second.outputs / "tiers.csv").height == data.height
        assert [p.name for p in (tmp_path / "out").iterdir()] == [period]

    def test_progress_is_told_each_stage_in_order_then_finished(
        self, tmp_path: Path, months: dict[str, pl.DataFrame]
    ) -> None:
        """run_cycle(progress=…) hears every stage as it begins, done counting up, then
        "finished" with done == total; a failing run stops its reports where it failed."""
        from vip_workflow.cycle.workspace import STAGES

        workspace = _workspace(tmp_path)
        period, data = next(iter(months.items()))
        heard: list[tuple[str, int, int]] = []
        workspace.run_cycle(period, data, progress=lambda *told: heard.append(told))
        assert heard == [(stage, n, len(STAGES)) for n, stage in enumerate(STAGES)] + [
            ("finished", len(STAGES), len(STAGES))]
        heard.clear()
        with pytest.raises(vw.ConfigError):
            workspace.run_cycle(period, data.drop(workspace.config.id_field),
                                progress=lambda *told: heard.append(told))
        assert heard == []  # it failed before the first stage

    def test_a_failed_run_writes_nothing(self, tmp_path: Path,
                                         months: dict[str, pl.DataFrame]) -> None:
        """Data without customer ids fails before anything is stored or written."""
        workspace = _workspace(tmp_path)
        period, data = next(iter(months.items()))
        with pytest.raises(vw.ConfigError, match="customer_id"):
            workspace.run_cycle(period, data.drop("customer_id"))
        assert workspace.store.periods() == []
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
        assert workspace.store.runs()[-1]["status"] == "failed"

    def test_a_run_failing_in_its_report_writes_nothing(
            self, tmp_path: Path, months: dict[str, pl.DataFrame], monkeypatch) -> None:
        """The report is rendered before anything is stored: its failure leaves no trace."""
        import vip_workflow.cycle.workspace as module

        workspace = _workspace(tmp_path, TestSignalsAndKpis.CONFIG.replace(
            "kpis: {preset: china-mobile-2006-kpis}\n", ""))
        from vip_workflow.samples import sample_history

        history = sample_history(400, 24, start="2024-11", seed=3)
        period, data = next(iter(months.items()))

        def broken(*args, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(module, "write_report", broken)
        with pytest.raises(OSError, match="disk full"):
            workspace.run_cycle(period, data, history=history)
        assert workspace.store.periods() == []
        assert workspace.store.tasks().height == 0
        assert list(workspace.engine.store.find(definition="retention_case")) == []
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
        assert workspace.store.runs()[-1]["status"] == "failed"
        monkeypatch.undo()
        done = workspace.run_cycle(period, data, history=history)  # a re-run completes it
        assert workspace.store.tiers(period).height == data.height
        assert done.tasks is not None and done.tasks.height == workspace.store.tasks().height > 0

    def test_kpis_the_portfolio_lacks_columns_for_are_skipped_with_a_warning(
            self, tmp_path: Path, months: dict[str, pl.DataFrame]) -> None:
        """Without kpi_data the cycle checks only the KPIs its portfolio can answer."""
        workspace = _workspace(tmp_path, CONFIG + "kpis: {preset: china-mobile-2006-kpis}\n")
        period, data = next(iter(months.items()))
        result = workspace.run_cycle(period, data)
        missing = workspace.kpis.missing_columns(data.columns)
        assert missing and len(result.warnings) == len(missing)
        assert all("--kpi-data" in w for w in result.warnings)
        assert set(result.kpis.get_column("kpi")).isdisjoint(missing)
        assert "warning: KPI" in result.summary()

    def test_each_period_uses_the_rule_version_in_force(self, tmp_path: Path) -> None:
        """A version effective from 2026-10 applies to October, not to September."""
        old = vw.preset("hubei-2006").to_dict()
        new = dict(old, version="2026.10", effective="2026-10")
        new["scheme"] = dict(old["scheme"], default="B")
        (tmp_path / "rules").mkdir()
        vw.load_rules(old).save(tmp_path / "rules" / "v1.yaml")
        vw.load_rules(new).save(tmp_path / "rules" / "v2.yaml")
        workspace = _workspace(tmp_path, CONFIG.replace("{preset: hubei-2006}",
                                                        "{files: [rules]}"))
        data = _groups([{"customer_id": "G1", "importance": "none", "revenue": 0,
                         "headcount": 0}])
        assert workspace.run_cycle("2026-09", data).judged["tier"].cast(pl.String)[0] == "C"
        assert workspace.run_cycle("2026-10", data).judged["tier"].cast(pl.String)[0] == "B"

    def test_a_past_period_replays_with_its_trigger_version(self, tmp_path: Path) -> None:
        """A threshold raised from 2026-10 fires for September's customers, then not; a
        September re-run after October still uses September's version."""
        (tmp_path / "triggers").mkdir()
        spend_triggers("1", None, 100).save(tmp_path / "triggers" / "v1.yaml")
        spend_triggers("2", "2026-10", 1000).save(tmp_path / "triggers" / "v2.yaml")
        workspace = _workspace(tmp_path, CONFIG + "triggers: {files: [triggers]}\n")
        history = pl.DataFrame({"customer_id": ["G1", "G2"] * 2,
                                "period": ["2026-09"] * 2 + ["2026-10"] * 2,
                                "revenue": [500.0, 2000.0] * 2})
        data = _groups([{"customer_id": c, "importance": "none", "revenue": r, "headcount": 0}
                        for c, r in (("G1", 500), ("G2", 2000))])

        def fired(result: vw.CycleResult) -> list[str]:
            assert result.signals is not None
            return sorted(result.signals.get_column("customer_id").cast(pl.String))

        september = workspace.run_cycle("2026-09", data, history=history)
        october = workspace.run_cycle("2026-10", data, history=history)
        assert (fired(september), fired(october)) == (["G1", "G2"], ["G2"])
        assert (september.trigger_version, october.trigger_version) == ("1", "2")
        assert october.rules == {"tiers": "hubei-2006 v2006.1", "triggers": "spend v2"}
        assert "(triggers: spend v2)" in october.summary()
        assert "trigger rules: spend v2 (effective 2026-10-01)" in \
            october.report.read_text(encoding="utf-8")
        assert workspace.store.runs()[-1]["summary"]["rules"]["triggers"] == "spend v2"
        again = workspace.run_cycle("2026-09", data, history=history)
        assert fired(again) == ["G1", "G2"] and again.trigger_version == "1"
        assert workspace.triggers is not None and workspace.triggers.version == "2"  # latest
        assert workspace.trigger_book("2026-09").version == "1"  # type: ignore[union-attr]

    def test_a_past_period_is_checked_against_its_kpi_targets(self, tmp_path: Path) -> None:
        """A revenue target raised from 2026-10: September passes, October fails."""
        (tmp_path / "kpis").mkdir()
        for version, effective, target in (("1", None, 1000), ("2", "2026-10", 5000)):
            data: dict[str, Any] = {
                "kind": "kpis", "name": "revenue-kpis", "version": version,
                "kpis": [{"id": "revenue", "measure": {"type": "sum", "field": "revenue"},
                          "target": target}]}
            if effective:
                data["effective"] = effective
            vw.load_rules(data).save(tmp_path / "kpis" / f"v{version}.yaml")
        workspace = _workspace(tmp_path, CONFIG + "kpis: {files: [kpis/v1.yaml, kpis/v2.yaml]}\n")
        data = _groups([{"customer_id": "G1", "importance": "none", "revenue": 2000,
                         "headcount": 0}])
        october = workspace.run_cycle("2026-10", data)
        september = workspace.run_cycle("2026-09", data)  # replayed after October
        assert september.kpis is not None and october.kpis is not None
        assert (september.kpis["status"][0], october.kpis["status"][0]) == ("pass", "fail")
        assert (september.kpis["target"][0], october.kpis["target"][0]) == ("1000", "5000")
        assert (september.kpi_version, october.kpi_version) == ("1", "2")
        assert "(KPIs: revenue-kpis v2)" in october.summary()
        assert "<li>KPI rules: revenue-kpis v1</li>" in september.report.read_text(
            encoding="utf-8")  # a version in force from always has no effective date

    def test_a_rule_file_with_a_bad_effective_date_is_located(self, tmp_path: Path) -> None:
        """The workspace refuses to start, naming the file and line."""
        (tmp_path / "triggers").mkdir()
        path = spend_triggers("1", None, 100).save(tmp_path / "triggers" / "v1.yaml")
        path.write_text(path.read_text(encoding="utf-8").replace(
            "version:", 'effective: "2026-13"\nversion:'), encoding="utf-8")
        with pytest.raises(vw.RuleFileError, match="effective") as caught:
            _workspace(tmp_path, CONFIG + "triggers: {files: [triggers]}\n")
        assert caught.value.path is not None and caught.value.path.endswith("v1.yaml")
        assert caught.value.line is not None

    def test_a_rule_source_of_the_wrong_kind_is_refused(self, tmp_path: Path) -> None:
        """A KPI preset under triggers: (or a tier file under kpis:) is a config error."""
        with pytest.raises(vw.ConfigError, match="kpis rules, not triggers"):
            _workspace(tmp_path, CONFIG + "triggers: {preset: china-mobile-2006-kpis}\n")
        vw.preset("hubei-2006").save(tmp_path / "tiers.yaml")
        with pytest.raises(vw.ConfigError, match="holds tiers rules, not kpis"):
            _workspace(tmp_path, CONFIG + "kpis: {files: [tiers.yaml]}\n")

    def test_a_bad_config_is_located(self, tmp_path: Path) -> None:
        """A misspelt key in vip.yaml names its line."""
        with pytest.raises(vw.RuleFileError, match="did you mean") as caught:
            _workspace(tmp_path, CONFIG.replace("reports:", "report:"))
        assert caught.value.line == 4


class TestCommands:
    """vip-workflow demo and run."""

    def test_the_demo_runs_two_cycles_and_a_sales_process(self, tmp_path: Path) -> None:
        """The main job prints its summary, the ledger and where the report is."""
        result = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path / "demo")])
        assert result.exit_code == 0, result.output
        assert "period 2026-10" in result.output
        assert "final state: won; ledger verifies: True" in result.output
        assert (tmp_path / "demo" / "reports" / "2026-10" / "report.html").exists()
        config = tmp_path / "demo" / "vip.yaml"
        assert result.output.rstrip().splitlines()[-1].strip() == \
            f"vip-workflow serve --workspace {config}"
        assert f"vip-workflow token create --workspace {config} --user " in result.output

    def test_run_takes_a_config_a_period_and_data(self, tmp_path: Path) -> None:
        """The production form."""
        (tmp_path / "vip.yaml").write_text(CONFIG, encoding="utf-8")
        data = tmp_path / "groups.parquet"
        load_sample_portfolio().write_parquet(data)
        result = CliRunner().invoke(app, ["run", "--config", str(tmp_path / "vip.yaml"),
                                          "--period", "2026-10", "--data", str(data)])
        assert result.exit_code == 0, result.output
        assert "period 2026-10: 2,000 customers" in result.output


class TestSignalsAndKpis:
    """With trigger and KPI rule files the cycle turns signals into work and checks KPIs."""

    CONFIG = (CONFIG + "triggers: {preset: seed-001-triggers}\n"
              "kpis: {preset: china-mobile-2006-kpis}\n")

    def test_signals_become_tasks_once_and_retain_signals_open_one_case(
        self, tmp_path: Path, months: dict[str, pl.DataFrame]
    ) -> None:
        """Tasks are deduplicated across cycles and re-runs; one retention case a customer."""
        from vip_workflow.samples import sample_history, sample_kpi_portfolio

        workspace = _workspace(tmp_path, self.CONFIG)
        history = sample_history(400, 24, start="2024-11", seed=3)
        kpi_data = sample_kpi_portfolio(400, seed=3)
        (first_period, first), (second_period, second) = months.items()
        one = workspace.run_cycle(first_period, first, history=history, kpi_data=kpi_data)
        assert one.signals is not None and one.tasks is not None and one.kpis is not None
        assert one.tasks.height == one.signals.select("customer_id", "trigger").n_unique() > 0
        two = workspace.run_cycle(second_period, second, history=history, kpi_data=kpi_data)
        stored = workspace.store.tasks()
        assert stored.height == one.tasks.height + two.tasks.height
        assert stored.select("customer", "trigger").n_unique() == stored.height
        again = workspace.run_cycle(second_period, second, history=history, kpi_data=kpi_data)
        assert workspace.store.tasks().height == stored.height  # nothing opened twice
        assert again.tasks.sort("id").equals(two.tasks.sort("id"))  # the period's tasks
        assert pl.read_csv(again.outputs / "tasks.csv").height == two.tasks.height
        retain = stored.filter(pl.col("family") == "retain")
        per_customer = retain.group_by("customer").agg(pl.col("case_id").n_unique())
        assert (per_customer.get_column("case_id") == 1).all()
        cases = set(workspace.engine.store.find(definition="retention_case"))
        assert cases == set(retain.get_column("case_id"))
        for case_id, assignees in retain.group_by("case_id").agg("assignee").iter_rows():
            case = workspace.engine.get(case_id)  # held by the customer's account manager
            if case.state == "assess" and any(assignees):
                assert case.assignee in assignees
        assert {"kpi", "status"} <= set(one.kpis.columns)
        assert (one.outputs / "tasks.csv").exists() and (one.outputs / "kpis.csv").exists()

    @pytest.mark.parametrize("storage", ["sqlite:///vip.db", "memory://"])
    def test_the_period_signals_are_stored_once_however_often_it_runs(
        self, tmp_path: Path, months: dict[str, pl.DataFrame], storage: str
    ) -> None:
        """The store keeps the cycle's signals per period (evidence as JSON text); a re-run
        replaces them, and they can be read per customer."""
        import json

        from vip_workflow.samples import sample_history

        workspace = _workspace(tmp_path, self.CONFIG.replace(
            "kpis: {preset: china-mobile-2006-kpis}\n", "").replace("sqlite:///vip.db", storage))
        history = sample_history(400, 24, start="2024-11", seed=3)
        period, data = next(iter(months.items()))
        result = workspace.run_cycle(period, data, history=history)
        assert result.signals is not None and result.signals.height > 0
        key = ["customer", "trigger", "family", "severity", "action"]
        expected = result.signals.select(
            pl.col("customer_id").alias("customer"), "trigger",
            *(pl.col(c).cast(pl.String) for c in ("family", "severity")), "action",
            pl.col("evidence").map_elements(lambda e: json.dumps(e.to_list()),
                                            return_dtype=pl.String)).sort(key)
        stored = workspace.store.signals(period)
        assert (stored.get_column("period") == period).all()
        assert stored.drop("period").sort(key).equals(expected)
        assert json.loads(stored.get_column("evidence")[0])[0].keys() == {"name", "value"}
        workspace.run_cycle(period, data, history=history)
        assert workspace.store.signals().height == result.signals.height  # not duplicated
        customer = stored.get_column("customer")[0]
        mine = workspace.store.signals(customer=customer)
        assert mine.height == expected.filter(pl.col("customer") == customer).height > 0
        assert (mine.get_column("customer") == customer).all()
        assert workspace.store.signals("1999-01").is_empty()

    def test_task_notices_go_to_the_configured_notifiers_keyed_by_task_id(
        self, tmp_path: Path, months: dict[str, pl.DataFrame]
    ) -> None:
        """vip.yaml's notifiers get one task_assigned per new task, after it is stored."""
        from vip_workflow.samples import sample_history

        workspace = _workspace(tmp_path, self.CONFIG.replace(
            "kpis: {preset: china-mobile-2006-kpis}\n", "notifiers: ['memory://']\n"))
        history = sample_history(400, 24, start="2024-11", seed=3)
        period, data = next(iter(months.items()))
        result = workspace.run_cycle(period, data, history=history)
        notifier = workspace.engine.notifier
        assert isinstance(notifier, MemoryNotifier)
        task_notices = [n for n in notifier.notices if n.process == "trigger_task"]
        assert sorted(n.instance_id for n in task_notices) == sorted(result.tasks["id"])
        cases = {n.instance_id for n in notifier.notices if n.process == "retention_case"}
        assert cases == set(result.tasks["case_id"].drop_nulls())

    def test_the_cycle_delivers_every_due_notice_not_one_batch(
        self, tmp_path: Path, months: dict[str, pl.DataFrame]
    ) -> None:
        """More notices than one dispatch batch (1 000) are all sent by the cycle."""
        from datetime import UTC, datetime

        from vip_workflow.domain.instances import Notice

        workspace = _workspace(tmp_path, CONFIG + "notifiers: ['memory://']\n")
        at = datetime(2026, 1, 1, tzinfo=UTC)
        workspace.engine.store.enqueue_notices(
            [(f"k{i}", Notice("task_assigned", f"t{i}", "trigger_task", "open", at))
             for i in range(2500)])
        period, data = next(iter(months.items()))
        result = workspace.run_cycle(period, data)
        assert result.notices_sent >= 2500
        assert len(workspace.engine.notifier.notices) >= 2500
        assert workspace.engine.store.pending_notices() == []

    @pytest.mark.parametrize("storage", ["sqlite:///vip.db", "memory://"])
    def test_task_notices_wait_in_the_outbox_while_the_notifier_fails(
        self, tmp_path: Path, months: dict[str, pl.DataFrame], monkeypatch: pytest.MonkeyPatch,
        storage: str,
    ) -> None:
        """A task notice the notifier refuses stays in the outbox; a later dispatch (after the
        backoff, on the workspace's clock) delivers each once, keyed by its task id."""
        from datetime import UTC, datetime, timedelta

        from vip_workflow.samples import sample_history

        now = [datetime(2026, 10, 1, 8, tzinfo=UTC)]
        (tmp_path / "vip.yaml").write_text(self.CONFIG.replace(
            "kpis: {preset: china-mobile-2006-kpis}\n", "notifiers: ['memory://']\n").replace(
            "sqlite:///vip.db", storage), encoding="utf-8")
        workspace = vw.Workspace.from_file(tmp_path / "vip.yaml", clock=lambda: now[0])
        notifier = workspace.engine.notifier
        sent: list[tuple[str | None, vw.Notice]] = []

        def down(notice: vw.Notice, *, key: str | None = None) -> None:
            raise vw.DeliveryError("the mail server is down")

        def up(notice: vw.Notice, *, key: str | None = None) -> None:
            sent.append((key, notice))

        monkeypatch.setattr(notifier, "send", down)
        period, data = next(iter(months.items()))
        result = workspace.run_cycle(period, data, history=sample_history(400, 24,
                                                                          start="2024-11", seed=3))
        task_ids = sorted(result.tasks["id"])
        assert task_ids and result.notices_sent == 0
        waiting = [n for _, n in workspace.engine.store.pending_notices()
                   if n.process == "trigger_task"]
        assert sorted(n.instance_id for n in waiting) == task_ids
        assert {n.kind for n in waiting} == {"task_assigned"}
        monkeypatch.setattr(notifier, "send", up)
        assert workspace.engine.dispatch() == 0  # not before the backoff is over
        now[0] += timedelta(hours=1)
        assert workspace.engine.dispatch() > 0
        tasks = [(key, n) for key, n in sent if n.process == "trigger_task"]
        assert sorted(key for key, _ in tasks) == task_ids  # each once
        assert all(key == n.instance_id for key, n in tasks)
        by_id = {row["id"]: row for row in result.tasks.iter_rows(named=True)}
        for _, notice in tasks:
            assert notice.users == ((by_id[notice.instance_id]["assignee"],)
                                    if by_id[notice.instance_id]["assignee"] else ())
            assert notice.data["trigger"] == by_id[notice.instance_id]["trigger"]
        now[0] += timedelta(days=1)
        assert workspace.engine.dispatch() == 0
        assert not [n for _, n in workspace.engine.store.pending_notices()
                    if n.process == "trigger_task"]

    def test_a_closed_task_lets_a_new_signal_open_another(
        self, tmp_path: Path, months: dict[str, pl.DataFrame]
    ) -> None:
        """Closing a task in the store re-arms its trigger for that customer."""
        from vip_workflow.samples import sample_history

        workspace = _workspace(tmp_path, self.CONFIG.replace(
            "kpis: {preset: china-mobile-2006-kpis}\n", ""))
        history = sample_history(400, 24, start="2024-11", seed=3)
        (first_period, first), (second_period, second) = months.items()
        one = workspace.run_cycle(first_period, first, history=history)
        for task_id in one.tasks.get_column("id"):
            workspace.store.set_task_status(task_id, "done")
        two = workspace.run_cycle(second_period, second, history=history)
        assert two.tasks.height == two.signals.select("customer_id", "trigger").n_unique()

    def test_a_period_is_one_unit_of_work_and_a_rerun_opens_its_cases(
        self, tmp_path: Path, months: dict[str, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The period is one unit of work: a run failing while it stores the tasks leaves no
        tiers, cases, tasks or task notices; the re-run opens every case in one batch."""
        import contextlib

        from vip_workflow.samples import sample_history

        workspace = _workspace(tmp_path, self.CONFIG.replace(
            "kpis: {preset: china-mobile-2006-kpis}\n", ""))
        history = sample_history(400, 24, start="2024-11", seed=3)
        period, data = next(iter(months.items()))
        store = workspace.engine.store
        assert workspace.store.instances is store  # one storage stack
        batches: list[int] = []
        unit_of_work = workspace.store.unit_of_work

        @contextlib.contextmanager
        def failing_unit_of_work() -> Any:
            with unit_of_work() as uow:
                commit = uow.commit_instances
                uow.commit_instances = lambda items: (batches.append(len(items)), commit(items))
                uow.add_tasks = lambda tasks: (_ for _ in ()).throw(RuntimeError("disk full"))
                yield uow

        monkeypatch.setattr(workspace.store, "unit_of_work", failing_unit_of_work)
        with pytest.raises(RuntimeError, match="disk full"):
            workspace.run_cycle(period, data, history=history)
        assert len(batches) == 1 and batches[0] > 0  # the cases were in the unit of work …
        assert store.find(definition="retention_case") == []  # … and rolled back with it
        assert workspace.store.periods() == [] and workspace.store.tasks().height == 0
        monkeypatch.undo()
        result = workspace.run_cycle(period, data, history=history)
        opened = set(store.find(definition="retention_case"))
        assert len(opened) == batches[0]
        assert opened == set(result.tasks["case_id"].drop_nulls())
        notifier = workspace.engine.notifier
        task_notices = [n.instance_id for n in notifier.notices if n.process == "trigger_task"]
        assert sorted(task_notices) == sorted(result.tasks["id"])  # once each, after the re-run
        for case_id in opened:
            case = store.get(case_id)
            assert case_id.startswith(f"retention:{period}:") and case.state == "assess"
            assert [e.action for e in case.history] == ["start"] and case.verify_ledger()
            assert case.history[0].comment == f"opened by {case.context['trigger']}"
            assert case_id == f"retention:{period}:{case.context['customer_id']}"


def test_the_cycle_scans_only_the_months_the_triggers_need(tmp_path: Path) -> None:
    """Signals from the trimmed history equal the period's signals from a full scan."""
    from datetime import date

    from vip_workflow.samples import sample_history

    history = sample_history(600, 24, start="2024-11", seed=8)
    workspace = _workspace(tmp_path, CONFIG + "triggers: {preset: seed-001-triggers}\n")
    portfolio = sample_portfolio(600, seed=8)
    result = workspace.run_cycle("2026-10", portfolio, history=history)
    full = workspace.triggers.scan(history).filter(pl.col("period") == date(2026, 10, 1))
    key = ["customer_id", "period", "trigger"]
    assert result.signals is not None and result.signals.height > 0
    assert result.signals.select(key).sort(key).equals(full.select(key).sort(key))

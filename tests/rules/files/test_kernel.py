"""The rule-file kernel: one header, one base, one message translation, one Finding, kinds."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import vip_workflow as vw
from vip_workflow.errors import ProcessDefinitionError, RuleFileError
from vip_workflow.processes.definitions import ProcessDefinition
from vip_workflow.processes.loader import bundled_definitions, load_definition
from vip_workflow.rules.files.findings import Finding, LintReport, findings_of
from vip_workflow.rules.files.header import FileHeader
from vip_workflow.rules.files.kinds import KINDS, check_file, model_for, schema_for
from vip_workflow.rules.files.model import FileModel
from vip_workflow.rules.kpis.book import KpiFile, kpis_schema
from vip_workflow.rules.tiers.book import loads_rules, rules_schema
from vip_workflow.rules.tiers.schema import RuleFile
from vip_workflow.rules.triggers import triggers_schema
from vip_workflow.rules.triggers.schema import TriggerFile

PROCESS = """kind: process
name: tiny
{extra}initial: work
states:
  - {{name: work, owner: account_manager}}
  - {{name: done, final: true}}
transitions:
  - {{event: finish, source: work, dest: done}}
"""
TIERS = """name: t
tiers: [A, B]
scheme:
  type: chain
  {extra}default: B
  factors: [{{field: revenue, bands: [{{min: 10, tier: A}}]}}]
"""


class TestOneHeader:
    """Every kind's file model is the one header plus its own keys."""

    @pytest.mark.parametrize("model", [RuleFile, TriggerFile, KpiFile, ProcessDefinition])
    def test_every_kind_derives_from_the_header_and_the_one_base(self, model: type) -> None:
        """Each file model is a FileHeader, hence a FileModel, and lists the header first."""
        assert issubclass(model, FileHeader) and issubclass(model, FileModel)
        header = ["kind", "name", "version", "effective", "title", "description"]
        assert list(model.model_fields)[:6] == header

    @pytest.mark.parametrize("model", [RuleFile, TriggerFile, KpiFile])
    def test_books_read_version_and_effective_the_same_way(self, model: type[FileHeader]
                                                           ) -> None:
        """`version: 2` is the text "2", `effective: 2026-10` the first of October."""
        fields = model.model_fields
        assert fields["version"].annotation == FileHeader.model_fields["version"].annotation
        assert fields["effective"].annotation == FileHeader.model_fields["effective"].annotation

    def test_a_tier_file_takes_a_title_and_a_month(self) -> None:
        """The header keys are accepted in a tier file too."""
        book = loads_rules(TIERS.format(extra="") + "title: Tiers\neffective: 2026-10\n"
                           "version: 3\n")
        assert book.rules.title == "Tiers"
        assert book.rules.effective == date(2026, 10, 1)
        assert book.rules.version == "3"


class TestOneMessageFormat:
    """Every kind words problems alike and renders them as file:line:column: field: reason."""

    def test_a_tier_file_says_did_you_mean(self) -> None:
        """An unknown key in a tier file names the closest known key."""
        with pytest.raises(RuleFileError) as caught:
            loads_rules(TIERS.format(extra="polcy: first\n  "), name="t.yaml")
        assert str(caught.value) == (
            "t.yaml:5:10: scheme.polcy: unknown key 'polcy'; did you mean 'policy'?")

    def test_a_process_file_says_did_you_mean_too(self) -> None:
        """Process files no longer pass pydantic's 'Extra inputs are not permitted' through."""
        with pytest.raises(ProcessDefinitionError) as caught:
            load_definition("p.yaml", text=PROCESS.format(extra="titel: Tiny\n"))
        assert str(caught.value) == (
            "p.yaml:3:1: titel: unknown key 'titel'; did you mean 'title'?")
        assert "Extra inputs" not in str(caught.value)

    def test_a_process_file_words_a_wrong_type_like_a_tier_file(self) -> None:
        """A text where a whole number belongs reads as in every other kind."""
        with pytest.raises(ProcessDefinitionError) as caught:
            load_definition("p.yaml", text=PROCESS.format(extra="version: two\n"))
        assert caught.value.field == "version"
        assert caught.value.reason == "'two' is not a whole number"

    def test_a_process_file_reads_no_as_text(self) -> None:
        """YAML 1.2 booleans only: `title: no` is the word, as in a tier file."""
        definition = load_definition("p.yaml", text=PROCESS.format(extra="title: no\n"))
        assert definition.title == "no"

    def test_vip_yaml_errors_are_located(self, tmp_path: Path) -> None:
        """vip.yaml goes through the same reader and messages."""
        path = tmp_path / "vip.yaml"
        path.write_text("tiers: {preset: hubei-2006}\nstorag: memory://\n", encoding="utf-8")
        with pytest.raises(RuleFileError) as caught:
            vw.Workspace.from_file(path)
        assert str(caught.value) == (
            f"{path}:2:9: storag: unknown key 'storag'; did you mean 'storage'?")

    def test_the_format_has_no_in_before_the_field(self) -> None:
        """file:line:column: field: reason, nothing else."""
        error = RuleFileError("bad", path="f.yaml", line=2, column=3, field="a.b")
        assert str(error) == "f.yaml:2:3: a.b: bad"


class TestProcessKind:
    """Process files carry `kind: process`; files without it load for one more release."""

    def test_bundled_definitions_carry_the_kind(self) -> None:
        """Every bundled process file says what it is."""
        assert all(d.kind == "process" for d in bundled_definitions())

    def test_a_file_without_kind_loads_with_a_deprecation(self) -> None:
        """The warning is located at the file's first key and names the fix."""
        text = PROCESS.format(extra="").removeprefix("kind: process\n")
        with pytest.warns(DeprecationWarning, match="p.yaml:1:1: warning: kind: .*kind: process"):
            definition = load_definition("p.yaml", text=text)
        assert definition.name == "tiny"

    def test_a_file_with_kind_loads_silently(self) -> None:
        """No warning for a file that names its kind."""
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            load_definition("p.yaml", text=PROCESS.format(extra=""))

    def test_another_kind_in_a_process_file_is_refused(self) -> None:
        """`kind: tiers` given to the process loader is an error at the kind."""
        with pytest.raises(ProcessDefinitionError) as caught:
            load_definition("p.yaml", text=PROCESS.format(extra="").replace(
                "kind: process", "kind: tiers"))
        assert caught.value.field == "kind"


class TestFindings:
    """One Finding for lint, validation and deprecations."""

    def test_the_top_level_names_are_the_kernel_s(self) -> None:
        """vw.Finding and vw.LintReport are the kernel's types."""
        assert vw.Finding is Finding and vw.LintReport is LintReport

    def test_a_load_error_becomes_findings(self) -> None:
        """Every problem of a located error is an error Finding with its place."""
        with pytest.raises(RuleFileError) as caught:
            loads_rules(TIERS.format(extra="polcy: first\n  "), name="t.yaml")
        (finding,) = findings_of(caught.value)
        assert finding == Finding("error", "rule_file_error",
                                  "unknown key 'polcy'; did you mean 'policy'?",
                                  "scheme.polcy", 5, 10, "t.yaml")

    def test_check_file_reports_a_missing_kind(self, tmp_path: Path) -> None:
        """check_file gives the deprecation of an old process file as a finding."""
        path = tmp_path / "p.yaml"
        path.write_text(PROCESS.format(extra="").removeprefix("kind: process\n"),
                        encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = check_file(path, default="process")
        assert [f.code for f in report] == ["missing-kind"]
        assert report.ok and not report.clean

    def test_check_file_reports_load_errors_and_lint(self, tmp_path: Path) -> None:
        """A bad file gives error findings; a good one its kind's lint."""
        bad = tmp_path / "bad.yaml"
        bad.write_text(TIERS.format(extra="polcy: first\n  "), encoding="utf-8")
        assert [f.field for f in check_file(bad).errors] == ["scheme.polcy"]
        good = tmp_path / "good.yaml"
        good.write_text(TIERS.format(extra=""), encoding="utf-8")
        report = check_file(good)
        assert all(isinstance(f, Finding) for f in report) and report.ok


class TestKinds:
    """One registry and one JSON Schema entry point per kind."""

    def test_every_kind_is_registered(self) -> None:
        """tiers, triggers, kpis, process and scenarios."""
        assert set(KINDS) == {"tiers", "triggers", "kpis", "process", "scenarios"}
        assert model_for("process") is ProcessDefinition

    @pytest.mark.parametrize(("kind", "wrapper"), [
        ("tiers", rules_schema), ("triggers", triggers_schema), ("kpis", kpis_schema),
        ("process", ProcessDefinition.json_schema)])
    def test_the_old_schema_functions_wrap_schema_for(
            self, kind: str, wrapper: Callable[[], dict[str, Any]]) -> None:
        """rules_schema() & co. return schema_for(kind)."""
        assert wrapper() == schema_for(kind)
        assert schema_for(kind)["$schema"].startswith("https://json-schema.org/")

    def test_an_unknown_kind_is_refused(self) -> None:
        """schema_for names the known kinds."""
        with pytest.raises(ValueError, match="tiers, triggers, kpis, process"):
            schema_for("nope")

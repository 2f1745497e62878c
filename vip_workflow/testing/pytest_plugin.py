"""A pytest plugin: scenario files (``*.scenarios.yaml``, ``.json``, and the tables ``.csv``
and ``.xlsx``) are collected as tests.

Installed with vip_workflow (the ``pytest11`` entry point ``vip_workflow_scenarios``), so
``pytest rules/`` runs every scenario file under ``rules/``: one test item per case, named by
the case. A failed case shows what it expected, what it got and the explanation (the
decision's trace, the signals with their evidence, the KPI's value against its target); a
scenario file that does not load is a collection error in the one located format
(``file:line:column: field: reason``). Turn the plugin off with ``-p no:vip_workflow_scenarios``.

Nothing heavy is imported until a scenario file is collected. The YAML reader is imported
with the plugin: pytest's ``pytester`` drops the modules an in-process run imported, and
PyYAML's C parser keeps the event classes of its first import, so a reader imported afresh in
a second run would not know its events.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import vip_workflow.rules.files.reader  # noqa: F401  (see above)

if TYPE_CHECKING:
    from vip_workflow.rules.scenarios.run import CaseResult, SuiteResult

__all__ = ["ScenarioCaseFailed", "ScenarioFileNode", "ScenarioItem", "pytest_collect_file"]

_SUFFIXES = (".scenarios.yaml", ".scenarios.json", ".scenarios.csv", ".scenarios.xlsx")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect ``NAME.scenarios.yaml`` (and ``.json``) files and scenario tables
    (``NAME.scenarios.csv`` / ``.xlsx``)."""
    if file_path.name.lower().endswith(_SUFFIXES) and not file_path.name.startswith("~$"):
        node: ScenarioFileNode = ScenarioFileNode.from_parent(parent, path=file_path)
        return node
    return None


class ScenarioCaseFailed(Exception):
    """A case whose book gives something else than it expects."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.message())
        self.result = result


class ScenarioFileNode(pytest.File):
    """One scenario file: its cases are run together, on first use, then reported one by
    one."""

    _result: SuiteResult | None = None

    def collect(self) -> Iterator[ScenarioItem]:
        from vip_workflow.rules.scenarios import load_scenarios

        suite = load_scenarios(self.path)
        self._suite = suite
        for index, case in enumerate(suite.cases):
            yield ScenarioItem.from_parent(self, name=case.name, index=index)

    def result(self) -> SuiteResult:
        """Every case of the file, run once."""
        if self._result is None:
            from vip_workflow.rules.scenarios import run_suite

            self._result = run_suite(self._suite, coverage=False)
        return self._result

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str:  # type: ignore[override]
        from vip_workflow.errors import RuleFileError

        error = excinfo.value
        if isinstance(error, RuleFileError):
            return "\n".join(str(problem) for problem in error.problems)
        return str(super().repr_failure(excinfo))


class ScenarioItem(pytest.Item):
    """One case of a scenario file."""

    def __init__(self, *, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index = index

    def runtest(self) -> None:
        parent = self.parent
        assert isinstance(parent, ScenarioFileNode)
        result = parent.result().results[self.index]
        if not result.passed:
            raise ScenarioCaseFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioCaseFailed):
            return excinfo.value.result.message()
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        parent = self.parent
        assert isinstance(parent, ScenarioFileNode)
        line, _ = parent._suite.document.locate(("cases", self.index))
        return self.path, None if line is None else line - 1, f"scenario: {self.name}"

"""The one shape of a reported problem: a :class:`Finding`, collected in a :class:`LintReport`.

Lint of every kind (tier, trigger and KPI books), validation of every file (a located
``RuleFileError`` or ``ProcessDefinitionError`` becomes findings with :func:`findings_of`)
and deprecations all report ``Finding`` values: severity, a stable code, the message, the
field path and where it stands (file, line, column).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal

from attrs import frozen

from vip_workflow.errors import _LocatedFileError

__all__ = ["Finding", "LintReport", "Severity", "findings_of"]

Severity = Literal["error", "warning", "info"]
_ORDER = {"error": 0, "warning": 1, "info": 2}


@frozen
class Finding:
    """One finding: severity, a stable code, the message, and where (field path, line,
    column, file)."""

    severity: Severity
    code: str
    message: str
    field: str | None = None
    line: int | None = None
    column: int | None = None
    file: str | None = None

    def location(self, path: str | None = None) -> str:
        """``file:line:column`` as far as it is known (``path`` when the finding has no file)."""
        where = self.file or path or ""
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def text(self, path: str | None = None) -> str:
        """``file:line:column: severity: field: message [code]``."""
        where = self.location(path)
        where = f"{where}: " if where else ""
        field = f"{self.field}: " if self.field else ""
        return f"{where}{self.severity}: {field}{self.message} [{self.code}]"


def findings_of(error: _LocatedFileError) -> list[Finding]:
    """Every problem of a located file error (``error.problems``) as an error Finding."""
    return [
        Finding("error", f"limit-{problem.limit}" if problem.limit else error.code,
                problem.reason, problem.field, problem.line, problem.column, problem.path)
        for problem in error.problems
    ]


class LintReport:
    """Findings, errors first (then by line)."""

    def __init__(self, findings: Iterable[Finding], path: str | None = None) -> None:
        self.findings: list[Finding] = sorted(
            findings, key=lambda f: (_ORDER[f.severity], f.line or 0))
        self.path = path

    @classmethod
    def from_error(cls, error: _LocatedFileError) -> LintReport:
        """The problems of a file that could not be loaded, as a report."""
        return cls(findings_of(error), path=error.path)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there are no errors."""
        return not self.errors

    @property
    def clean(self) -> bool:
        """True when there are neither errors nor warnings."""
        return not self.errors and not self.warnings

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __add__(self, other: LintReport) -> LintReport:
        return LintReport([*self.findings, *other.findings], path=self.path or other.path)

    def __str__(self) -> str:
        if not self.findings:
            return "no findings"
        return "\n".join(f.text(self.path) for f in self.findings)

    def _tally(self) -> str:
        if not self.findings:
            return "no findings"
        info = len(self.findings) - len(self.errors) - len(self.warnings)
        return (f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
                + (f", {info} note(s)" if info else ""))

    def __repr__(self) -> str:
        where = f" {self.path}" if self.path else ""
        return f"<LintReport{where}: {self._tally()}>"

    def _repr_html_(self) -> str:
        from vip_workflow import _html

        rows = [(f.severity, f.location(self.path), f.field, f.message, f.code)
                for f in self.findings]
        body = _html.table(("severity", "where", "field", "finding", "code"), rows,
                           what="findings") if rows else ""
        return _html.frame(f"lint {self.path}" if self.path else "lint", body,
                           note=self._tally())

"""Weight fitting and lint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import vip_workflow as vw
from vip_workflow.rules.tiers.fitting import fit_weights


class TestFitWeights:
    """fit_weights recovers known weights and writes a loadable rule file."""

    def _history(self, n: int = 500) -> pl.DataFrame:
        rng = np.random.default_rng(3)
        revenue = rng.uniform(0, 100, n)
        members = rng.uniform(0, 50, n)
        region = rng.choice(["wuhan", "yichang", "xiangyang"], n)
        bonus = np.select([region == "wuhan", region == "yichang"], [7.0, 3.0], 0.0)
        value = 5.0 + 2.0 * revenue - 1.5 * members + bonus
        return pl.DataFrame({"revenue": revenue, "members": members, "region": region,
                             "value": value})

    def test_exact_data_gives_back_the_true_weights(self, tmp_path: Path) -> None:
        """Noise-free data: weights, intercept and region map are recovered."""
        book = fit_weights(self._history(), target="value", features=["revenue", "members"],
                              categorical=["region"], path=tmp_path / "fitted.yaml")
        scheme = book.rules.scheme
        weights = {t.field: t.weight for t in scheme.terms if t.map is None}
        assert weights == pytest.approx({"revenue": 2.0, "members": -1.5})
        region = next(t.map for t in scheme.terms if t.map is not None)
        assert region["wuhan"] - region["xiangyang"] == pytest.approx(7.0)
        assert "R² = 1.0000" in book.rules.description
        assert vw.load_rules(tmp_path / "fitted.yaml").plan == book.plan

    def test_shares_cut_the_fitted_scores(self) -> None:
        """Default ABC shares: about 5 % A and 25 % B of the history."""
        history = self._history(2000)
        book = fit_weights(history, target="value", features=["revenue", "members"],
                              categorical=["region"])
        counts = dict(book.judge_many(history).get_column("tier").cast(pl.String)
                      .value_counts().iter_rows())
        assert counts["A"] == pytest.approx(100, abs=2)
        assert counts["B"] == pytest.approx(500, abs=3)

    def test_too_little_data_is_a_config_error(self) -> None:
        """Fewer rows than weights cannot be fitted."""
        with pytest.raises(vw.ConfigError, match="cannot fit"):
            fit_weights(self._history(2), target="value", features=["revenue", "members"])

    def test_an_absent_column_is_named(self) -> None:
        """A feature the data lacks is a clear error."""
        with pytest.raises(vw.ConfigError, match="no column arpu"):
            fit_weights(self._history(), target="value", features=["arpu"])


def _lint(text: str) -> vw.LintReport:
    return vw.loads_rules(text).lint()


CHAIN = """\
name: l
tiers: [A, B+, B, C]
scheme:
  type: chain
  policy: highest
  default: C
  factors:
    - field: headcount
      bands:
{bands}
"""


class TestLint:
    """Lint finds overlaps, shadowed bands, gaps, unknown values and unreachable tiers."""

    def test_the_presets_lint_clean(self) -> None:
        """No preset has an error or a warning."""
        for name in vw.presets(kind="tiers"):
            report = vw.preset(name).lint()
            assert report.clean, f"{name}: {report}"

    def test_a_shared_inclusive_bound_is_an_overlap_error(self) -> None:
        """220 in both [150, 220] and [220, 800] with different tiers is an error."""
        report = _lint(CHAIN.format(bands="        - {min: 150, max: 220, closed: both, tier: B+}"
                                    "\n        - {min: 220, max: 800, closed: both, tier: A}"))
        assert [f.code for f in report.errors] == ["overlap"]
        assert "220 is in both" in report.errors[0].message
        assert report.errors[0].line == 11
        assert not report.ok

    def test_touching_half_open_bands_do_not_overlap(self) -> None:
        """[150, 220) and [220, 800) share no value."""
        report = _lint(CHAIN.format(bands="        - {min: 150, max: 220, tier: B+}"
                                    "\n        - {min: 220, max: 800, tier: A}"))
        assert report.ok and not report.warnings

    def test_a_band_inside_an_earlier_one_is_shadowed(self) -> None:
        """A band whose values an earlier band already holds can never decide."""
        report = _lint(CHAIN.format(bands="        - {min: 100, tier: A}"
                                    "\n        - {min: 300, max: 400, tier: B}"))
        assert [f.code for f in report.errors] == ["shadowed"]

    def test_a_gap_in_a_chain_is_reported_as_information(self) -> None:
        """Values no band covers pass to the next factor: info, with the gap."""
        report = _lint(CHAIN.format(bands="        - {min: 800, tier: A}"
                                    "\n        - {min: 100, max: 500, tier: B}"))
        gaps = [f.message for f in report if f.code == "gap"]
        assert gaps and "(-inf, 100), [500, 800)" in gaps[0]
        assert report.clean

    def test_a_scoring_gap_without_otherwise_is_a_warning(self) -> None:
        """A value that silently scores 0 points is worth a warning."""
        text = ("name: s\ntiers: [A, C]\nscheme:\n  type: scoring\n  default: C\n  factors:\n"
                "    - field: revenue\n      bands:\n        - {min: 10, points: 5}\n"
                "  tiers:\n    - {min: 100, tier: A}\n")
        report = _lint(text)
        assert [f.code for f in report.warnings] == ["gap", "unreachable"]
        assert "totals range from 0 to 5" in report.warnings[1].message

    def test_a_category_outside_the_declared_values_is_an_error(self) -> None:
        """A misspelt category is caught when the field declares its values."""
        text = CHAIN.replace("    - field: headcount\n      bands:\n{bands}",
                             "    - field: importance\n      values: [county_gov, none]\n"
                             "      bands:\n        - {in: [countygov], tier: A}\n")
        report = _lint(text)
        assert [f.code for f in report.errors] == ["unknown-value"]

    def test_a_factor_that_cannot_beat_the_default_is_a_warning(self) -> None:
        """Under highest, a factor giving only the default tier cannot matter."""
        report = _lint(CHAIN.format(bands="        - {min: 100, tier: C}"))
        assert [f.code for f in report.warnings] == ["useless-factor"]

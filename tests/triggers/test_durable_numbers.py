"""durable_rules never sees a number in exponent form (``1e-05``, ``1e+16``): its native
parser crashes the whole process on one. Each check runs in a subprocess, so a crash is a
failed test, not a dead test run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from vip_workflow.rules.triggers._durable import plain_number

#: runs the live engine and the batch scan on facts around a threshold; prints both
SCRIPT = textwrap.dedent("""
    import json, sys
    from tests.triggers.helpers import book_of, history
    threshold, op, facts = float(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    book = book_of({"type": "threshold", "field": "revenue", "op": op, "value": threshold})
    frame = history({"revenue": facts})
    def months(signals):
        return sorted(f"{p:%Y-%m}" for p in signals["period"])
    print(json.dumps({"live": months(book.scan_live(frame)), "batch": months(book.scan(frame))}))
""")

TINY = [1e-05, 2e-05, 5e-06, 1e-300, 0.0, -1e-05, 1.0, 1.5e-05]
HUGE = [1e16, 2e16, 9e15, 1e300, 0.0, -1e16, 1e17, 1.7976931348623157e308]


def _run(threshold: float, op: str, facts: list[float]) -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, repr(threshold), op, json.dumps(facts)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


def _expected(threshold: float, op: str, facts: list[float]) -> list[str]:
    compare = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__,
               "==": float.__eq__, "!=": float.__ne__}[op]
    return [f"2026-{m:02d}" for m, fact in enumerate(facts, start=1)
            if compare(float(fact), threshold)]


class TestExponentForm:
    """Tiny and huge thresholds and facts: no crash, the batch path's answer."""

    @pytest.mark.parametrize(("threshold", "facts"), [(1e-05, TINY), (1e16, HUGE)])
    @pytest.mark.parametrize("op", [">", ">=", "<", "==", "!="])
    def test_no_crash_and_the_right_months(self, threshold: float, facts: list[float],
                                           op: str) -> None:
        """Every month fires exactly when the comparison holds, in both paths."""
        result = _run(threshold, op, facts)
        assert result["live"] == result["batch"] == _expected(threshold, op, facts)

    def test_facts_in_exponent_form_against_a_plain_threshold(self) -> None:
        """A plain threshold (0.5) with facts such as 1e-05 and 1e+17."""
        facts = [1e-05, 1e17, 0.5, -1e-07, 1e16]
        result = _run(0.5, ">=", facts)
        assert result["live"] == result["batch"] == _expected(0.5, ">=", facts)

    @pytest.mark.parametrize("value", [1e-05, 1e16, -1e-300, 1.7976931348623157e308, 0.0,
                                       0.001, 123.5, 1e15 - 1])
    def test_a_plain_number_is_never_written_with_an_exponent(self, value: float) -> None:
        """The stand-in keeps the sign and is written without an exponent."""
        shown = plain_number(value)
        assert "e" not in repr(shown)
        assert (shown > 0) == (value > 0) and (shown == 0) == (value == 0)

    def test_thresholds_too_far_apart_are_refused(self) -> None:
        """One fact compared with 1e-10 and 1e10: a ConfigError naming it, no crash."""
        import vip_workflow as vw
        from vip_workflow.rules.triggers._durable import DurableRuleset

        condition = {"$or": [{"$lt": {"f0": 1e-10}}, {"$gt": {"f0": 1e10}}]}
        with pytest.raises(vw.ConfigError, match=r"f0: 1e-10 to 10000000000.0"):
            DurableRuleset("spread", {"r": (condition, lambda event: None)})

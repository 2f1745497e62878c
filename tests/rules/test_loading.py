"""Loading rule files: good files load, bad files fail with a located, typed error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

import vip_workflow as vw
from vip_workflow.rules.tiers.book import rules_schema

GOOD = """\
name: demo
tiers: [A, B, C]
scheme:
  type: chain
  policy: first
  default: C
  factors:
    - field: revenue
      bands:
        - {min: 100, tier: A}
        - {min: 10, max: 100, tier: B}
"""


def _error(text: str, name: str = "tiers.yaml") -> vw.RuleFileError:
    with pytest.raises(vw.RuleFileError) as caught:
        vw.loads_rules(text, name=name)
    return caught.value


class TestGoodFiles:
    """Valid files load from paths, text, mappings and JSON."""

    def test_a_yaml_file_loads_from_a_path(self, tmp_path: Path) -> None:
        """load_rules reads a YAML path and names the book."""
        path = tmp_path / "tiers.yaml"
        path.write_text(GOOD, encoding="utf-8")
        book = vw.load_rules(path)
        assert (book.name, book.tiers, book.path) == ("demo", ("A", "B", "C"), str(path))

    def test_a_json_file_gives_the_same_plan(self, tmp_path: Path) -> None:
        """JSON is accepted and compiles to the same plan as the YAML."""
        book = vw.loads_rules(GOOD)
        path = tmp_path / "tiers.json"
        path.write_text(json.dumps(book.to_dict()), encoding="utf-8")
        assert vw.load_rules(path).plan == book.plan

    def test_a_mapping_loads(self) -> None:
        """A dict is a rule file too (for notebooks and tests)."""
        import yaml

        assert vw.load_rules(yaml.safe_load(GOOD)).plan == vw.loads_rules(GOOD).plan

    def test_no_and_yes_stay_text(self) -> None:
        """Only true/false are booleans: `no`, `on`, `yes` are category values."""
        book = vw.loads_rules(GOOD.replace("- field: revenue", "- field: answer\n      bands:\n"
                                           "        - {in: [no, yes, on], tier: A}\n"
                                           "    - field: revenue"))
        assert book.judge({"answer": "no", "revenue": 0}).tier == "A"

    def test_saved_books_load_back(self, tmp_path: Path) -> None:
        """save() writes a file that loads to the same plan, YAML or JSON."""
        book = vw.preset("hubei-scoring")
        for name in ("out.yaml", "out.json"):
            assert vw.load_rules(book.save(tmp_path / name)).plan == book.plan


class TestBadFiles:
    """Each kind of bad file raises RuleFileError with file, line, column and field."""

    def test_the_error_is_a_config_error_and_a_value_error(self) -> None:
        """RuleFileError sits in the public error tree."""
        error = _error("name: x")
        assert isinstance(error, vw.ConfigError)
        assert isinstance(error, vw.VipWorkflowError)
        assert isinstance(error, ValueError)

    def test_a_missing_file_is_named(self, tmp_path: Path) -> None:
        """A path that does not exist says so."""
        with pytest.raises(vw.RuleFileError, match="file not found") as caught:
            vw.load_rules(tmp_path / "nope.yaml")
        assert caught.value.path == str(tmp_path / "nope.yaml")

    def test_broken_yaml_gives_line_and_column(self) -> None:
        """A YAML syntax error points at its line."""
        error = _error("name: x\ntiers: [A, B\nscheme: {}\n")
        assert error.line == 3
        assert "not valid YAML" in error.reason

    def test_broken_json_gives_line_and_column(self) -> None:
        """A JSON syntax error points at its line and column."""
        error = _error('{\n  "name": "x",\n  "tiers": [A]\n}', name="t.json")
        assert (error.line, error.column) == (3, 13)

    def test_a_wrong_type_names_the_field_and_its_line(self) -> None:
        """A text where a number belongs is located by field path and line."""
        error = _error(GOOD.replace("min: 10,", "min: ten,"))
        assert error.line == 11
        assert error.field == "scheme.factors[0] (revenue).bands[1] (B).min"
        assert "number" in error.reason
        assert "tiers.yaml:11" in str(error)

    def test_a_misspelt_key_suggests_the_right_one(self) -> None:
        """Unknown keys are errors, with a suggestion."""
        error = _error(GOOD.replace("max: 100", "maxx: 100"))
        assert "unknown key 'maxx'" in error.reason
        assert "did you mean 'max'" in error.reason
        assert error.line == 11

    def test_a_missing_key_is_named(self) -> None:
        """A required key that is absent is named, located at its parent."""
        error = _error(GOOD.replace("  default: C\n", ""))
        assert "'default' is missing" in error.reason
        assert error.field == "scheme"

    def test_an_unknown_tier_is_located(self) -> None:
        """A band giving a tier the file does not declare is an error at that band."""
        error = _error(GOOD.replace("tier: B}", "tier: D}"))
        assert "unknown tier 'D'" in error.reason
        assert error.line == 11
        assert error.field == "scheme.factors[0] (revenue).bands[1] (D).tier"

    def test_duplicate_keys_are_errors(self) -> None:
        """A key written twice would silently drop one; it is refused."""
        error = _error(GOOD.replace("name: demo\n", "name: demo\nname: other\n"))
        assert "appears twice" in error.reason
        assert error.line == 2

    def test_anchors_and_aliases_are_refused(self) -> None:
        """Aliases allow billion-laughs blow-ups; rule files may not use them."""
        error = _error("name: &n x\ndescription: *n\ntiers: [A]\n")
        assert "anchors and aliases" in error.reason

    def test_python_tags_are_never_executed(self, tmp_path: Path) -> None:
        """A YAML tag that would build an object is refused, nothing runs."""
        marker = tmp_path / "pwned"
        text = f"name: !!python/object/apply:os.system ['touch {marker}']\ntiers: [A]\n"
        error = _error(text)
        assert "tag" in error.reason
        assert not marker.exists()

    def test_an_empty_file_is_an_error(self) -> None:
        """An empty file says it is empty."""
        assert "empty" in _error("").reason

    def test_a_list_at_the_top_is_an_error(self) -> None:
        """The file must hold a mapping."""
        assert "mapping" in _error("- a\n- b\n").reason

    def test_a_bad_range_explains_the_notation(self) -> None:
        """A range that does not parse says how to write one."""
        error = _error(GOOD.replace("{min: 100, tier: A}", '{range: "100 to 200", tier: A}'))
        assert "[7000, 18000)" in error.reason
        assert error.line == 10

    def test_an_empty_interval_is_an_error(self) -> None:
        """min above max holds no value."""
        error = _error(GOOD.replace("min: 10, max: 100", "min: 100, max: 10"))
        assert "holds no value" in error.reason

    def test_both_range_and_min_is_an_error(self) -> None:
        """One way to match per band."""
        error = _error(GOOD.replace("{min: 100, tier: A}", '{min: 100, range: "[1, 2)", tier: A}'))
        assert "only one of" in error.reason

    def test_mixed_kinds_in_one_factor_are_an_error(self) -> None:
        """A factor reads one kind of value."""
        error = _error(GOOD.replace("{min: 100, tier: A}", "{in: [big], tier: A}"))
        assert "mix kinds" in error.reason

    def test_quota_shares_over_the_whole_are_an_error(self) -> None:
        """Shares may not add up to more than 1."""
        text = ("name: q\ntiers: [A, B, C]\nscheme:\n  type: quota\n  by: revenue\n  quotas:\n"
                "    - {tier: A, share: 0.6}\n    - {tier: B, share: 0.6}\n    - {tier: C}\n")
        error = _error(text)
        assert "more than the whole" in error.reason
        assert error.line == 8

    def test_every_problem_is_listed(self) -> None:
        """A file with several problems reports them all, the first in the message."""
        error = _error(GOOD.replace("min: 10,", "min: ten,").replace("policy: first",
                                                                     "policy: best"))
        assert len(error.problems) == 2
        assert "more problem" in str(error)

    def test_a_failed_load_leaves_nothing_behind(self, tmp_path: Path) -> None:
        """Loading is all or nothing: no partial book, the presets unchanged."""
        before = vw.presets()
        with pytest.raises(vw.RuleFileError):
            vw.loads_rules(GOOD.replace("tier: B}", "tier: D}"))
        assert vw.presets() == before

    def test_an_unknown_preset_lists_the_known_ones(self) -> None:
        """preset() with a wrong name is a typed error naming the presets."""
        with pytest.raises(vw.UnknownPresetError, match="hubei-2006"):
            vw.preset("hubei-2066")


class TestSchema:
    """The JSON Schema describes rule files for editors."""

    def test_the_schema_validates_the_presets(self) -> None:
        """Every preset is valid under the published JSON Schema."""
        jsonschema = pytest.importorskip("jsonschema")
        schema = rules_schema()
        for name in vw.presets(kind="tiers"):
            jsonschema.validate(vw.preset(name).to_dict(), schema)

    def test_the_schema_names_every_scheme_type(self) -> None:
        """chain, scoring, weighted, quota and eligibility are all described."""
        text = json.dumps(rules_schema())
        for kind in ("chain", "scoring", "weighted", "quota", "eligibility"):
            assert f'"{kind}"' in text


QUOTA = """\
name: q
tiers: [A, B, C]
scheme:
  type: quota
  by: revenue
  quotas:
{quotas}
"""

_GOOD_DATA = {"name": "demo", "tiers": ["A", "B", "C"], "scheme": {
    "type": "chain", "policy": "first", "default": "C", "factors": [
        {"field": "revenue", "bands": [{"min": 100, "tier": "A"}]}]}}

SCORING = """\
name: s
tiers: [A, B]
scheme:
  type: scoring
  default: B
  factors:
    - field: revenue
      otherwise: 0
      bands:
        - {min: 100, points: 5}
  tiers:
    - {min: 5, tier: A}
"""

WEIGHTED = """\
name: w
tiers: [A, B]
scheme:
  type: weighted
  intercept: 1
  default: B
  terms:
    - {field: revenue, weight: 2}
    - {field: region, map: {wuhan: 10}}
  tiers:
    - {min: 5, tier: A}
"""

BAD_CASES = {
    "duplicate tier": (GOOD.replace("[A, B, C]", "[A, B, A]"), "listed twice"),
    "numbers as tiers": (GOOD.replace("[A, B, C]", "[1, 2]"), "expected a text, found the "
                                                              "number 1"),
    "empty in list": (GOOD.replace("{min: 100, tier: A}", "{in: [], tier: A}"), "empty"),
    "mixed in list": (GOOD.replace("{min: 100, tier: A}", "{in: [a, 1], tier: A}"),
                      "mixes kinds"),
    "band with no condition": (GOOD.replace("{min: 100, tier: A}", "{tier: A}"),
                               "say which values match"),
    "duplicate rule id": (GOOD.replace("{min: 100, tier: A}", "{id: r, min: 100, tier: A}")
                          .replace("{min: 10, max: 100, tier: B}",
                                   "{id: r, min: 10, max: 100, tier: B}"), "used twice"),
    "unknown policy": (GOOD.replace("policy: first", "policy: best"), "'first' or 'highest'"),
    "unknown scheme type": (GOOD.replace("type: chain", "type: magic"), "magic"),
    "unknown kind": ("kind: spells\nname: x\n", "unknown kind 'spells'"),
    "no factors": (GOOD.split("  factors:")[0] + "  factors: []\n", "at least 1"),
    "closed on a range": (GOOD.replace("{min: 100, tier: A}",
                                       '{range: "[1, 2)", closed: both, tier: A}'),
                          "closed applies to min/max only"),
    "middle quota without share": (QUOTA.format(quotas="    - {tier: A}\n    - {tier: B, "
                                                "share: 0.2}\n    - {tier: C}"),
                                   "only the last quota"),
    "shares short of the whole": (QUOTA.format(quotas="    - {tier: A, share: 0.2}\n"
                                               "    - {tier: C, share: 0.5}"),
                                  "add up to 0.7"),
    "share above one": (QUOTA.format(quotas="    - {tier: A, share: 1.5}\n    - {tier: C}"),
                        "less than or equal to 1"),
    "both by and score": (QUOTA.format(quotas="    - {tier: C}").replace(
        "by: revenue", "by: revenue\n  score: {type: weighted, terms: [{field: x}]}"),
        "exactly one of"),
    "sub-tier of an unknown tier": (GOOD + "subtiers:\n  Z:\n    field: f\n    bands: "
                                    "[{in: [true], tier: A}]\n    default: B\n",
                                    "unknown tier 'Z'"),
    "window without aggregate": ("name: e\ntiers: [Y, N]\nscheme:\n  type: eligibility\n"
                                 "  tier: Y\n  default: N\n  conditions:\n"
                                 "    - {field: bills, window: 3, min: 5}\n",
                                 "aggregate and window go together"),
    "tab indentation": (GOOD.replace("  type: chain", "\ttype: chain"), "not valid YAML"),
    "NaN bound": (GOOD.replace("{min: 100, tier: A}", "{min: .nan, tier: A}"), "not a number"),
    "NaN bound in JSON": (json.dumps(_GOOD_DATA, indent=2).replace("100,", "NaN,", 1),
                          "not a number", "tiers.json"),
    "infinite points": (SCORING.replace("points: 5", "points: .inf"), "finite number"),
    "infinite weight": (WEIGHTED.replace("weight: 2", "weight: -.inf"), "finite number"),
    "infinite intercept": (WEIGHTED.replace("intercept: 1", "intercept: .inf"),
                           "finite number"),
    "NaN in a map": (WEIGHTED.replace("wuhan: 10", "wuhan: .nan"), "finite number"),
    "infinite otherwise": (SCORING.replace("otherwise: 0", "otherwise: .inf"),
                           "finite number"),
    "infinite value in a list": (GOOD.replace("{min: 100, tier: A}", "{in: [1, .inf], tier: A}"),
                                 "finite"),
    "a truth value as a bound": (GOOD.replace("{min: 100, tier: A}", "{min: true, tier: A}"),
                                 "not a truth value"),
    "a truth value as points": (SCORING.replace("points: 5", "points: false"),
                                "not a truth value"),
}


def test_an_unknown_key_is_never_offered_as_its_own_correction() -> None:
    """A key valid elsewhere in the file is unknown here, without 'did you mean' itself."""
    error = _error(GOOD.replace("{min: 100, tier: A}", "{min: 100, tier: A, policy: first}"))
    assert "unknown key 'policy'" in error.reason
    assert "did you mean 'policy'" not in error.reason


@pytest.mark.parametrize("case", list(BAD_CASES.values()), ids=list(BAD_CASES))
def test_bad_files_are_refused_with_a_reason(case: tuple[str, ...]) -> None:
    """Each malformed file raises RuleFileError whose reason says what is wrong, and where."""
    text, expected, *name = case
    error = _error(text, *name)
    assert expected in error.reason, error.reason
    assert error.line is not None


def test_non_utf8_and_oversized_files_are_refused(tmp_path: Path) -> None:
    """Bytes that are not UTF-8, and files over the size limit, never reach the parser."""
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: café\n".encode("latin-1"))
    with pytest.raises(vw.RuleFileError, match="not UTF-8"):
        vw.load_rules(latin)
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"# " + b"x" * 6_000_000)
    with pytest.raises(vw.RuleFileError, match="exceeds the 1 MiB limit"):
        vw.load_rules(huge)


def test_duplicate_keys_in_json_are_refused() -> None:
    """JSON objects may not repeat a key either; the error points at the second one."""
    with pytest.raises(vw.RuleFileError, match="appears twice") as caught:
        vw.loads_rules('{"name": "a",\n "name": "b"}', name="t.json")
    assert (caught.value.line, caught.value.column, caught.value.field) == (2, 2, "name")


class TestJsonLocations:
    """JSON errors are located however the file is indented."""

    DATA: ClassVar[dict[str, Any]] = {
        "name": "demo", "tiers": ["A", "B", "C"],
        "scheme": {"type": "chain", "policy": "first", "default": "C", "factors": [
            {"field": "revenue", "bands": [{"min": 100, "tier": "A"},
                                           {"min": "ten", "tier": "B"}]}]}}

    @pytest.mark.parametrize(("indent", "line", "column"), [
        ("\t", 21, 14), (2, 21, 20), (None, 1, 185),
    ])
    def test_a_validation_error_has_line_and_column(self, indent: str | int | None, line: int,
                                                    column: int) -> None:
        """Tabs (which the YAML reader refuses) count as one column, like spaces."""
        text = json.dumps(self.DATA, indent=indent)
        error = _error(text, "t.json")
        assert (error.line, error.column) == (line, column)
        assert text.splitlines()[line - 1][column - 1:].startswith('"ten"')
        assert error.field == "scheme.factors[0] (revenue).bands[1] (B).min"
        assert f"t.json:{line}:{column}: scheme.factors[0]" in str(error)

    def test_a_duplicate_key_inside_a_tab_indented_file_is_located(self) -> None:
        """The second `tier` of a band, at its own line and column."""
        text = json.dumps(self.DATA, indent="\t").replace(
            '"tier": "A"', '"tier": "A",\n\t\t\t\t\t\t"tier": "B"')
        error = _error(text, "t.json")
        assert "the key 'tier' appears twice" in error.reason
        assert (error.line, error.column) == (19, 7)
        assert error.field == "scheme.factors.0.bands.0.tier"

    def test_escaped_keys_are_compared_as_read(self) -> None:
        """"ty\\u0070e" is the key "type"."""
        error = _error('{"name": "a", "scheme": {"type": "x", "ty\\u0070e": 1}}', "t.json")
        assert "'type' appears twice" in error.reason
        assert (error.line, error.column) == (1, 39)

    def test_nan_and_infinity_are_scanned(self) -> None:
        """Python's JSON extensions (NaN, Infinity) keep the later fields located."""
        data = {**self.DATA, "scheme": {**self.DATA["scheme"], "factors": [
            {"field": "revenue", "bands": [{"max": float("inf"), "tier": "A"},
                                           {"min": float("-inf"), "max": "x", "tier": "B"}]}]}}
        error = _error(json.dumps(data, indent="\t"), "t.json")
        assert error.line == 22 and "'x' is not a number" in error.reason

    def test_deep_nesting_is_an_error_not_a_crash(self) -> None:
        """A file nested thousands deep is refused, not a RecursionError."""
        assert "nested too deeply" in _error("[" * 100_000 + "]" * 100_000, "t.json").reason


class TestAnalystWording:
    """Validation messages are in analyst words, not pydantic's."""

    @pytest.mark.parametrize(("old", "new", "reason", "field"), [
        ("type: chain", "type: chian",
         "unknown type 'chian'; expected one of chain, scoring, weighted, quota, eligibility; "
         "did you mean 'chain'?", "scheme.type"),
        ("min: 10,", "min: ten,", "'ten' is not a number",
         "scheme.factors[0] (revenue).bands[1] (B).min"),
        ("policy: first", "policy: frist",
         "unknown policy 'frist'; expected 'first' or 'highest'; did you mean 'first'?",
         "scheme.policy"),
        ("name: demo", "name: [demo]", "expected a text, found a list", "name"),
        ("name: demo", "name: demo\noverride: true",
         "expected a mapping of keys or false, found true", "override"),
        ("name: demo", "name: demo\noverride: {tier: 5}",
         'expected a text, found the number 5; quote it ("5") if it is a name', "override.tier"),
        ("{min: 100, tier: A}", "{in: [[1]], tier: A}",
         "expected a text, true or false, or a number, found a list",
         "scheme.factors[0] (revenue).bands[0] (A).in[0]"),
        ("name: demo", "name: demo\neffective: 2026-1-5", "'2026-1-5' is not a date; write it as "
         "YYYY-MM-DD", "effective"),
        ("name: demo", "name: demo\neffective: 2026-02-30",
         "'2026-02-30' is not a date: day is out of range for month", "effective"),
        ("  type: chain\n", "",
         "the required key 'type' is missing: it says which kind of scheme this is", "scheme"),
        ("      bands:\n        - {min: 100, tier: A}\n        - {min: 10, max: 100, tier: B}\n",
         "      bands: []\n", "needs at least 1 entry, has none",
         "scheme.factors[0] (revenue).bands"),
    ])
    def test_common_mistakes_read_plainly(self, old: str, new: str, reason: str,
                                          field: str) -> None:
        """Each mistake is one problem, in plain words, at its field and line."""
        error = _error(GOOD.replace(old, new))
        assert (error.reason, error.field) == (reason, field)
        assert len(error.problems) == 1
        assert error.line is not None

    @pytest.mark.parametrize(("quotas", "reason"), [
        ("    - {tier: A, share: abc}\n    - {tier: C}", "'abc' is not a number"),
        ("    - {tier: A, share: 1.5}\n    - {tier: C}",
         "must be less than or equal to 1 (found 1.5)"),
        ("    - {tier: A, share: 0}\n    - {tier: C}", "must be greater than 0 (found 0)"),
    ])
    def test_numbers_out_of_bounds(self, quotas: str, reason: str) -> None:
        """Bounds are stated with the number found."""
        assert _error(QUOTA.format(quotas=quotas)).reason == reason

    def test_a_fractional_window_is_not_a_whole_number(self) -> None:
        """window counts months."""
        text = ("name: e\ntiers: [Y, N]\nscheme:\n  type: eligibility\n  tier: Y\n"
                "  default: N\n  conditions:\n"
                "    - {field: bills, aggregate: mean, window: 1.5, min: 5}\n")
        assert _error(text).reason == "1.5 is not a whole number"

    @pytest.mark.parametrize("text", [
        GOOD.replace("type: chain", "type: chian"), GOOD.replace("min: 10,", "min: ten,"),
        GOOD.replace("[A, B, C]", "[1, 2]"), GOOD.replace("policy: first", "policy: best"),
        GOOD.replace("name: demo", "name: demo\noverride: 3"),
        GOOD.split("  factors:")[0] + "  factors: []\n",
    ])
    def test_no_pydantic_wording_is_left(self, text: str) -> None:
        """Not "Input should be", "Input tag", "List should have"."""
        for problem in _error(text).problems:
            assert "Input" not in problem.reason and "should have" not in problem.reason


class TestEveryCompileProblem:
    """Problems of meaning (unknown tiers, duplicate ids, empty intervals …) are all
    reported at once, each at its file, line and field."""

    def test_an_unknown_default_and_an_unknown_band_tier_are_both_reported(self) -> None:
        """default D and a band tier Z: two problems, in file order."""
        error = _error(GOOD.replace("default: C", "default: D").replace("tier: B}", "tier: Z}"))
        assert [(p.line, p.field, p.reason) for p in error.problems] == [
            (6, "scheme.default", "unknown tier 'D'; the file declares: A, B, C"),
            (11, "scheme.factors[0] (revenue).bands[1] (Z).tier",
             "unknown tier 'Z'; the file declares: A, B, C"),
        ]
        assert all(p.path == "tiers.yaml" for p in error.problems)
        assert str(error).startswith("tiers.yaml:6:")
        assert "(and 1 more problem(s))" in str(error)

    def test_problems_across_the_file_are_all_listed(self) -> None:
        """An empty interval, an unknown tier, a duplicate rule id and a bad sub-tier."""
        text = (GOOD.replace("{min: 100, tier: A}", "{id: r, min: 100, max: 50, tier: A}")
                .replace("{min: 10, max: 100, tier: B}", "{id: r, min: 10, max: 100, tier: Q}")
                + "subtiers:\n  Z:\n    field: f\n    bands: [{in: [true], tier: A}]\n"
                  "    default: B\n")
        reasons = [p.reason for p in _error(text).problems]
        assert len(reasons) == 4, reasons
        assert any("holds no value" in r for r in reasons)
        assert any("unknown tier 'Q'" in r for r in reasons)
        assert any("'r' is used twice" in r for r in reasons)
        assert any("unknown tier 'Z'" in r for r in reasons)

    def test_two_factors_with_one_name_are_one_problem(self) -> None:
        """Their generated rule ids would clash too; only the name is reported."""
        text = GOOD + "    - field: revenue\n      bands:\n        - {min: 5, tier: C}\n"
        error = _error(text)
        assert [p.reason for p in error.problems] == [
            "two factors are named 'revenue'; give one an id"]
        assert error.line == 12


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    """Files saved by Windows editors (UTF-8 with BOM) load."""
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert vw.load_rules(path).name == "demo"


@pytest.mark.parametrize(("text", "name", "line", "field"), [
    (GOOD.replace("{min: 100, tier: A}", "{min: .nan, tier: A}"), "tiers.yaml", 10,
     "scheme.factors[0] (revenue).bands[0] (A).min"),
    ('{\n "name": "demo", "tiers": ["A", "C"],\n "scheme": {"type": "chain", "default": "C",\n'
     '  "factors": [{"field": "revenue", "bands": [\n    {"max": NaN, "tier": "A"}]}]}}\n',
     "tiers.json", 5, "scheme.factors[0] (revenue).bands[0] (A).max"),
    (SCORING.replace("points: 5", "points: .inf"), "s.yaml", 10,
     "scheme.factors[0] (revenue).bands[0].points"),
    (WEIGHTED.replace("weight: 2", "weight: .inf"), "w.yaml", 8,
     "scheme.terms[0] (revenue).weight"),
])
def test_non_finite_numbers_are_located(text: str, name: str, line: int, field: str) -> None:
    """A NaN bound or an infinite number is a RuleFileError at its file, line and field — not a
    bare ValueError from deep inside the compiler."""
    error = _error(text, name)
    assert (error.path, error.line, error.field) == (name, line, field)

"""The ``vip-workflow`` command line. It uses only the public API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import vip_workflow as vw
from vip_workflow.cli.common import (
    PROGRESS_ROWS,
    EncodingOption,
    PresetOption,
    RulesOption,
    SheetOption,
    check_numbers,
    deprecated,
    err,
    fail,
    kind_of,
    load_book,
    more,
    out,
    print_problems,
    read,
    refuse_output,
    working,
    write,
)
from vip_workflow.cli.io import located

if TYPE_CHECKING:
    from vip_workflow.rules.tiers.book import AnyBook

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="vip_workflow: key-account tiers, triggers and processes.",
)

CHUNK = 250_000
#: the columns ``judge`` adds
RESULT_COLUMNS = ("tier", "rule", "reason", "computed_tier")


def _describe_book(book: Any) -> str:
    """One line about a loaded book of any kind."""
    if isinstance(book, vw.RuleBook):
        return (f"{book.name} v{book.version} ({book.rules.scheme.type}, tiers "
                f"{' > '.join(book.tiers)})")
    return f"{book.name} v{book.version} ({kind_of(book)})"


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="Rule files to check.")]) -> None:
    """Check that rule files load; print every problem as file:line:column: field: reason."""
    from vip_workflow.cli.scenarios import load_rule_file

    failed = False
    for path in files:
        try:
            book = load_rule_file(path)
        except vw.RuleFileError as exc:
            print_problems(exc)
            failed = True
        else:
            out.print(f"ok {path}: {_describe_book(book)}", markup=False, highlight=False)
    raise typer.Exit(1 if failed else 0)


@app.command(name="upgrade-file")
def upgrade_file(
    files: Annotated[list[Path], typer.Argument(help="Rule files to rewrite in place.")],
    check: Annotated[bool, typer.Option(
        "--check", help="Only say which files use old spellings; exit 1 if any.")] = False,
) -> None:
    """Rewrite old condition spellings in rule files to the one condition language."""
    from vip_workflow.rules.files.conditions import upgrade_text

    failed = changed = False
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
            new = upgrade_text(text, path=str(path))
        except vw.RuleFileError as exc:
            print_problems(exc)
            failed = True
            continue
        except OSError as exc:
            fail(f"{path}: {exc.strerror or exc}", 1)
        if new == text:
            out.print(f"ok {path}: already in the one condition language", markup=False,
                      highlight=False)
            continue
        changed = True
        if not check:
            path.write_text(new, encoding="utf-8")
        out.print(f"{'would rewrite' if check else 'rewrote'} {path}", markup=False,
                  highlight=False)
    raise typer.Exit(1 if failed or (check and changed) else 0)


@app.command()
def lint(
    files: Annotated[list[Path] | None, typer.Argument(help="Rule files to lint.")] = None,
    preset: PresetOption = None,
    strict: Annotated[bool, typer.Option(help="Fail on warnings too.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show info findings.")] = False,
) -> None:
    """Find gaps, overlaps, shadowed bands and unreachable tiers; exit 1 on errors."""
    from vip_workflow.cli.scenarios import load_rule_file

    books: list[tuple[str, AnyBook]] = []
    failed = False
    for path in files or []:
        try:
            books.append((str(path), load_rule_file(path)))
        except vw.RuleFileError as exc:
            print_problems(exc)
            failed = True
    if preset:
        books.append((f"preset {preset}", load_book(None, preset)))
    if not books and not failed:
        fail("name a rule file or --preset NAME", 2)
    for name, book in books:
        report = book.lint()
        for finding in report:
            if verbose or finding.severity != "info":
                out.print(located(name, f"{finding.message} [{finding.code}]", line=finding.line,
                                  field=finding.field, severity=finding.severity),
                          markup=False, highlight=False)
        errors, warnings = len(report.errors), len(report.warnings)
        out.print(f"{name}: {errors} error(s), {warnings} warning(s)", highlight=False)
        failed = failed or errors > 0 or (strict and warnings > 0)
    raise typer.Exit(1 if failed else 0)


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
    kind: Annotated[str, typer.Option(help="tiers, triggers, kpis or scenarios.")] = "tiers",
) -> None:
    """Print the JSON Schema of rule files (for editors' completion and validation)."""
    schemas = {"tiers": ("vip_workflow.rules.tiers.book", "rules_schema"),
               "triggers": ("vip_workflow.rules.triggers", "triggers_schema"),
               "kpis": ("vip_workflow.rules.kpis.book", "kpis_schema"),
               "scenarios": ("vip_workflow.rules.scenarios.model", "scenarios_schema")}
    if kind not in schemas:
        fail(f"no kind {kind!r}: one of {', '.join(schemas)}", 2)
    from importlib import import_module

    module, function = schemas[kind]
    text = json.dumps(getattr(import_module(module), function)(), indent=2, ensure_ascii=False)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        out.print(f"wrote {output}")
    else:
        typer.echo(text)


@app.command(name="presets")
def list_presets() -> None:
    """List the bundled rule books."""
    table = Table("scheme", "tiers", "description")
    table.add_column("preset", no_wrap=True)
    table.columns.insert(0, table.columns.pop())
    for name in vw.presets():
        book = vw.preset(name)
        rules = getattr(book, "rules", None)
        scheme = getattr(getattr(rules, "scheme", None), "type", None)
        kind = getattr(rules, "kind", "tiers")
        tiers = " > ".join(getattr(book, "tiers", ())) if kind == "tiers" else ""
        table.add_row(name, scheme or kind, tiers, getattr(rules, "description", None) or "")
    out.print(table)


def _judge_with_progress(book: vw.RuleBook, frame: pl.DataFrame, quiet: bool) -> pl.DataFrame:
    """Judge in chunks under a progress bar for more than a few thousand rows (quota schemes
    rank the whole portfolio at once, under an elapsed-time bar)."""
    if frame.height <= PROGRESS_ROWS or quiet:
        judged: pl.DataFrame = book.judge_many(frame)
        return judged
    if book.needs_portfolio:
        with working(f"judging {frame.height:,} customers", frame.height):
            judged = book.judge_many(frame)
        return judged
    size = min(CHUNK, max(PROGRESS_ROWS, frame.height // 20))
    parts: list[pl.DataFrame] = []
    with Progress(TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err) as progress:
        task = progress.add_task("judge", total=frame.height)
        for start in range(0, frame.height, size):
            part = frame.slice(start, size)
            parts.append(book.judge_many(part))
            progress.advance(task, part.height)
    return pl.concat(parts)


def summary_table(book: vw.RuleBook, judged: pl.DataFrame, title: str = "tiers") -> Table:
    """A rich table: customers per tier, with shares, plus those that could not be judged."""
    total = judged.height
    counts = dict(judged.get_column("tier").cast(pl.String).value_counts().iter_rows())
    table = Table("tier", "customers", "share", title=title)
    for tier in book.tiers:
        n = counts.get(tier, 0)
        table.add_row(tier, f"{n:,}", f"{n / total:.1%}" if total else "-")
    unjudged = counts.get(None, 0)
    if unjudged:
        table.add_row("[red]could not judge[/red]", f"{unjudged:,}", f"{unjudged / total:.1%}")
    return table


@app.command()
def judge(
    data: Annotated[Path, typer.Argument(
        metavar="DATA", help="Customers: CSV, TSV, Parquet, JSON, NDJSON or Excel.")],
    rules: RulesOption = None,
    preset: PresetOption = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the judged rows here (.csv, .tsv, .parquet, .json, "
        ".ndjson, .xlsx).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no summary.")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace the tier, rule, reason and computed_tier columns the "
        "input already has (without it judge refuses such an input).")] = False,
    encoding: EncodingOption = "auto",
    sheet: SheetOption = None,
) -> None:
    """Judge every customer in a file; write the result and print a tier summary."""
    refuse_output(output)
    from vip_workflow.cycle.checks import check_columns

    book = load_book(rules, preset, kind="tiers")
    frame = read(data, encoding, quiet=quiet, sheet=sheet)
    taken = [name for name in RESULT_COLUMNS if name in frame.columns]
    if taken and not overwrite:
        fail(f"{data} already has the column(s) {', '.join(taken)}, which judge writes (is it "
             "a judged file?); give --overwrite to replace them, or rename them", 2)
    frame = frame.drop(taken)
    try:
        check_columns(book, frame.columns, source=str(data))
    except vw.MissingColumnsError as exc:
        fail(str(exc))
    check_numbers(book, frame, data)
    judged = _judge_with_progress(book, frame, quiet)
    if output:
        write(judged, output, quiet=quiet)
    if not quiet:
        _print_summary(book, judged, frame.height)


def _print_summary(book: vw.RuleBook, judged: pl.DataFrame, height: int) -> None:
    out.print(summary_table(book, judged, title=f"{book.name}: {height:,} customers"))
    reasons = judged.filter(pl.col("reason").is_not_null()).get_column("reason")
    counts = reasons.value_counts(sort=True)
    for reason, n in counts.head(5).iter_rows():
        out.print(f"  could not judge {n:,}: {reason}", highlight=False)
    left = more(5, counts.height, "reasons")
    if left:
        out.print(f"  {left}", highlight=False)


def _parse_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", ""):
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text.startswith("["):
        return json.loads(text)
    return text


@app.command()
def explain(
    fields: Annotated[list[str] | None, typer.Argument(
        help="Fields as name=value, e.g. revenue=17500 (with --data: values that replace the "
        "customer's, to ask what if).")] = None,
    rules: RulesOption = None,
    preset: PresetOption = None,
    data: Annotated[Path | None, typer.Option(
        "--data", "-d", help="Take the customer from this data file (with --id).")] = None,
    customer: Annotated[str | None, typer.Option(
        "--id", help="The customer's id in --data, e.g. G0001.")] = None,
    id_field: Annotated[str | None, typer.Option(
        "--id-field", help="The id column of --data (default: the rule file's id_field, "
        "else customer_id).")] = None,
    encoding: EncodingOption = "auto",
    sheet: SheetOption = None,
) -> None:
    """Judge one customer, given on the command line or by id from a data file, and explain
    the decision."""
    book = load_book(rules, preset, kind="tiers")
    given = _given_fields(book, fields or [])
    if (data is None) != (customer is None):
        fail("give --data FILE and --id ID together", 2)
    if data is not None and customer is not None:
        frame = read(data, encoding, sheet=sheet)
        decision = _explain_from(book, frame, data, customer, id_field, given)
    else:
        if not given:
            fail("give fields as name=value, or --data FILE --id ID", 2)
        try:
            decision = book.judge(given)
        except vw.PortfolioRequiredError as exc:
            fail(f"{exc}; explain a customer of a portfolio with --data FILE --id ID", 2)
    out.print(decision.explain(), highlight=False)
    raise typer.Exit(0 if decision.ok else 1)


def _known_fields(book: vw.RuleBook) -> list[str]:
    """What a record for ``book`` may name: the fields it reads, the override fields, the id."""
    known = list(book.fields)
    override = book.rules.override
    if override:
        known += [override.tier, override.by, override.reason]
    return [*known, book.rules.id_field or "customer_id"]


def _given_fields(book: vw.RuleBook, items: list[str]) -> dict[str, Any]:
    """name=value pairs as a record; exit 2 for a name the rules do not read that is close
    to one they do (a typo), and say so for any other name they do not read."""
    from difflib import get_close_matches

    known = _known_fields(book)
    record: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            fail(f"{item!r}: write fields as name=value", 2)
        if name not in known:
            close = get_close_matches(name, known, n=1, cutoff=0.6)
            if close:
                fail(f"unknown field {name!r}; did you mean {close[0]!r}? (the rules read "
                     f"{', '.join(book.fields)})", 2)
            err.print(f"note: the rules do not read {name!r} (they read "
                      f"{', '.join(book.fields)})", markup=False, highlight=False)
        record[name] = _parse_value(value)
    return record


def _explain_from(book: vw.RuleBook, frame: pl.DataFrame, data: Path, customer: str,
                  id_field: str | None, given: dict[str, Any]) -> vw.Decision:
    """The decision for customer ``customer`` of ``frame`` (with ``given`` values replacing
    the customer's); a quota scheme ranks the whole portfolio."""
    column = id_field or book.rules.id_field or "customer_id"
    if column not in frame.columns:
        fail(f"{data} has no id column {column!r} (give --id-field; columns: "
             f"{', '.join(frame.columns)})", 2)
    ids = frame.get_column(column).cast(pl.String)
    rows = (ids == customer).arg_true()
    if rows.len() == 0:
        from difflib import get_close_matches

        close = get_close_matches(customer, ids.drop_nulls().unique().head(100_000).to_list(),
                                  n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        fail(f"{data}: no customer {customer!r} in column {column} "
             f"({frame.height:,} rows){hint}", 1)
    row = int(rows[0])
    if not book.needs_portfolio:
        return book.judge({**frame.row(row, named=True), **given})
    records = frame.to_dicts()
    records[row] = {**records[row], **given}
    with working("ranking the portfolio", frame.height):
        return book.judge_rows(records)[row]


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Workspace folder to use.")] = Path(
        "vip-demo"),
) -> None:
    """Run the main job on SQLite: two monthly cycles on the sample, one sales process."""
    from vip_workflow.samples.demo import run_demo

    run_demo(directory, out)


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="The workspace's vip.yaml.")],
    period: Annotated[str, typer.Option("--period", help="The month, e.g. 2026-10.")],
    data: Annotated[Path | None, typer.Argument(
        metavar="DATA", help="Portfolio: CSV, TSV, Parquet, JSON, NDJSON or Excel.",
        show_default=False)] = None,
    history: Annotated[Path | None, typer.Option(
        "--history", help="Monthly history for the triggers.")] = None,
    kpi_data: Annotated[Path | None, typer.Option(
        "--kpi-data", help="Portfolio the KPIs are checked on (default: DATA; KPIs it has "
        "no columns for are skipped with a warning).")] = None,
    encoding: EncodingOption = "auto",
    sheet: SheetOption = None,
    old_data: Annotated[Path | None, typer.Option("--data", hidden=True)] = None,
) -> None:
    """Run the monthly cycle for one period: tiers, changes, reviews, signals, KPIs, report."""
    data = _positional(data, old_data, "run DATA --config FILE --period MONTH")
    try:
        workspace = vw.Workspace.from_file(config)
        portfolio = read(data, encoding, sheet=sheet)
        with working(f"running {period} on {portfolio.height:,} customers", portfolio.height):
            result = workspace.run_cycle(
                period, portfolio,
                history=read(history, encoding, sheet=sheet) if history else None,
                kpi_data=read(kpi_data, encoding, sheet=sheet) if kpi_data else None)
    except vw.RuleFileError as exc:
        print_problems(exc)
        raise typer.Exit(1) from None
    except vw.VipWorkflowError as exc:
        fail(f"{type(exc).__name__}: {exc}")
    out.print(result.summary(), highlight=False)


def _positional(data: Path | None, old: Path | None, usage: str) -> Path:
    """The data file, given positionally or (deprecated) with ``--data``."""
    if data is not None and old is not None:
        fail(f"give the data file once: vip-workflow {usage}", 2)
    if old is not None:
        deprecated("--data FILE", f"the file as an argument: vip-workflow {usage}")
        return old
    if data is None:
        fail(f"name the data file: vip-workflow {usage}", 2)
    return data


@app.command()
def diff(
    files: Annotated[list[Path] | None, typer.Argument(
        metavar="OLD NEW DATA", show_default=False,
        help="The old and the new rule file, then the customers (tier files) or the monthly "
        "history (trigger files).")] = None,
    show: Annotated[int, typer.Option(help="How many changed customers to list.")] = 10,
    encoding: EncodingOption = "auto",
    sheet: SheetOption = None,
    old_rules: Annotated[tuple[Path, Path] | None, typer.Option(
        "--rules", hidden=True)] = None,
    old_data: Annotated[Path | None, typer.Option("--data", hidden=True)] = None,
) -> None:
    """Preview a rule change: who changes tier, or which signals appear and disappear.

    OLD and NEW must be of the same kind: two tier rule files or two trigger files (KPI files
    are not compared; check each with ``vip-workflow kpi``). Other pairs exit with code 2.
    """
    from vip_workflow.rules.versions import diff_signals, diff_tiers

    paths = list(files or [])
    usage = "diff OLD NEW DATA"
    if old_rules is not None:
        deprecated("diff --rules OLD NEW", f"the files as arguments: vip-workflow {usage}")
        paths = [*old_rules, *paths]
    if len(paths) == 2:
        paths.append(_positional(None, old_data, usage))
    elif old_data is not None:
        fail(f"give the data file once: vip-workflow {usage}", 2)
    if len(paths) != 3:
        fail(f"give two rule files and a data file: vip-workflow {usage}", 2)
    rules, data = (paths[0], paths[1]), paths[2]
    try:
        old_book, new_book = (vw.load_rules(path) for path in rules)
    except vw.RuleFileError as exc:
        print_problems(exc)
        raise typer.Exit(1) from None
    names = {"tiers": "a tier rule file", "triggers": "a trigger file", "kpis": "a KPI file"}
    kinds = [kind_of(book) for book in (old_book, new_book)]
    described = " and ".join(f"{path} is {names.get(kind, f'a {kind!r} file')}"
                             for path, kind in zip(rules, kinds, strict=True))
    if kinds[0] != kinds[1]:
        fail(f"diff compares two files of the same kind, but {described}.", 2)
    if kinds[0] not in ("tiers", "triggers"):
        plural = "KPI files" if kinds[0] == "kpis" else f"{kinds[0]!r} files"
        problem = (f"diff compares tier rule files or trigger files, not {plural} "
                   f"({rules[0]}, {rules[1]}).")
        if kinds[0] == "kpis":
            problem += f" Check each KPI file instead: vip-workflow kpi {data} -r FILE"
        fail(problem, 2)
    frame = read(data, encoding, sheet=sheet)
    if not isinstance(old_book, vw.RuleBook):
        with working(f"scanning {frame.height:,} rows twice", frame.height):
            signals = diff_signals(old_book, new_book, frame)
        _print_signal_diff(signals)
        return
    assert isinstance(new_book, vw.RuleBook)  # same kind as old_book, checked above
    check_numbers(old_book, frame, data)
    check_numbers(new_book, frame, data)
    with working(f"judging {frame.height:,} customers twice", frame.height):
        result = diff_tiers(old_book, new_book, frame)
    out.print(result.summary(), highlight=False)
    matrix = result.matrix
    table = Table(*(["old \\ new", *matrix.columns[1:]]), title="customers by old and new tier")
    for row in matrix.iter_rows():
        table.add_row(str(row[0]), *(f"{n:,}" for n in row[1:]))
    out.print(table)
    changed = result.changed.head(show)
    if changed.height:
        listing = Table("customer", "old tier", "new tier", "old rule", "new rule")
        for row in changed.iter_rows():
            listing.add_row(*("" if v is None else str(v) for v in row))
        out.print(listing)
    left = more(changed.height, result.changed.height, "changed customers", "--show N")
    if left:
        out.print(left, highlight=False)


def _print_signal_diff(signals: Any) -> None:
    out.print(signals.summary(), highlight=False)
    table = Table("trigger", "before", "after", "appear", "disappear", title="signals by trigger")
    for row in signals.by_trigger().iter_rows():
        table.add_row(str(row[0]), *(f"{n:,}" for n in row[1:]))
    out.print(table)


def _mount_triggers() -> None:
    from importlib import import_module, util

    if util.find_spec("vip_workflow.cli.triggers") is None:
        return
    module = import_module("vip_workflow.cli.triggers")
    app.command(name="scan")(module.scan_command)
    app.command(name="kpi")(module.kpi_command)


def _mount_adapters() -> None:
    from importlib import import_module, util

    if util.find_spec("vip_workflow.cli.db") is None:
        return
    module = import_module("vip_workflow.cli.db")
    db_app = typer.Typer(no_args_is_help=True, help="The storage database: schema migrations.")
    db_app.command(name="upgrade")(module.db_upgrade_command)
    app.add_typer(db_app, name="db")
    app.command(name="dispatch")(module.dispatch_command)


def _mount_excel() -> None:
    from vip_workflow.cli import excel

    app.command(name="export")(excel.export_command)
    app.command(name="import")(excel.import_command)


def _mount_processes() -> None:
    from importlib import import_module, util

    if util.find_spec("vip_workflow.cli.processes") is None:
        return
    app.add_typer(import_module("vip_workflow.cli.processes").process_app, name="process")


def _mount_server() -> None:
    from importlib import import_module, util

    if util.find_spec("vip_workflow.cli.server") is None:
        return
    module = import_module("vip_workflow.cli.server")
    app.command(name="serve")(module.serve_command)
    app.add_typer(module.token_app, name="token")


def _mount_scenarios() -> None:
    from importlib import import_module

    app.command(name="test")(import_module("vip_workflow.cli.scenarios").test_command)


_mount_processes()
_mount_triggers()
_mount_adapters()
_mount_excel()
_mount_server()
_mount_scenarios()


def main() -> None:
    """Entry point of the ``vip-workflow`` script."""
    app()

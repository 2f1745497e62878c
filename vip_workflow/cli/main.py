"""The ``vip-workflow`` command line. It uses only the public API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import vip_workflow as vw

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="vip_workflow: key-account tiers, triggers and processes.",
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

CHUNK = 250_000

RulesOption = Annotated[
    Path | None, typer.Option("--rules", "-r", help="Rule file (YAML or JSON).", exists=False)
]
PresetOption = Annotated[
    str | None, typer.Option("--preset", "-p", help="Name of a bundled rule book.")
]


def _book(rules: Path | None, preset: str | None, *, tiers_only: bool = False) -> vw.RuleBook:
    """The rule book named by --rules or --preset; ``tiers_only`` refuses (exit 2) a book of
    another kind (triggers, KPIs), which cannot judge customers."""
    if (rules is None) == (preset is None):
        err.print("[red]give exactly one of --rules FILE or --preset NAME[/red]")
        raise typer.Exit(2)
    try:
        book = vw.load_rules(rules) if rules is not None else vw.preset(preset)  # type: ignore[arg-type]
    except vw.RuleFileError as exc:
        _print_rule_error(exc)
        raise typer.Exit(1) from None
    except vw.UnknownPresetError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if tiers_only and not isinstance(book, vw.RuleBook):
        source = f"preset {preset}" if preset is not None else str(rules)
        kind = getattr(getattr(book, "rules", None), "kind", type(book).__name__)
        tier_presets = ", ".join(vw.presets(kind="tiers"))
        err.print(f"[red]{source} is not a tier rule book (kind: {kind}); it cannot judge "
                  f"customers. Tier presets: {tier_presets}[/red]", highlight=False)
        raise typer.Exit(2)
    return book


def _print_rule_error(exc: vw.RuleFileError) -> None:
    for problem in exc.problems:
        where = problem.location
        field = f" in {problem.field}" if problem.field else ""
        err.print(f"[red]error[/red] {where}{field}: {problem.reason}", highlight=False)


def _describe_book(book: Any) -> str:
    """One line about a loaded book of any kind."""
    if isinstance(book, vw.RuleBook):
        return (f"{book.name} v{book.version} ({book.rules.scheme.type}, tiers "
                f"{' > '.join(book.tiers)})")
    kind = getattr(getattr(book, "rules", None), "kind", type(book).__name__)
    return f"{book.name} v{book.version} ({kind})"


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="Rule files to check.")]) -> None:
    """Check that rule files load; print every problem with its file, line and field."""
    failed = False
    for path in files:
        try:
            book = vw.load_rules(path)
        except vw.RuleFileError as exc:
            _print_rule_error(exc)
            failed = True
        else:
            out.print(f"[green]ok[/green] {path}: {_describe_book(book)}", highlight=False)
    raise typer.Exit(1 if failed else 0)


@app.command()
def lint(
    files: Annotated[list[Path] | None, typer.Argument(help="Rule files to lint.")] = None,
    preset: PresetOption = None,
    strict: Annotated[bool, typer.Option(help="Fail on warnings too.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show info findings.")] = False,
) -> None:
    """Find gaps, overlaps, shadowed bands and unreachable tiers; exit 1 on errors."""
    books: list[tuple[str, vw.RuleBook | None]] = []
    failed = False
    for path in files or []:
        try:
            books.append((str(path), vw.load_rules(path)))
        except vw.RuleFileError as exc:
            _print_rule_error(exc)
            failed = True
    if preset:
        books.append((f"preset {preset}", _book(None, preset)))
    if not books and not failed:
        err.print("[red]name a rule file or --preset[/red]")
        raise typer.Exit(2)
    for name, book in books:
        assert book is not None
        report = book.lint()
        shown = [f for f in report if verbose or f.severity != "info"]
        for finding in shown:
            colour = {"error": "red", "warning": "yellow", "info": "cyan"}[finding.severity]
            line = f":{finding.line}" if finding.line else ""
            field = f" {finding.field}:" if finding.field else ""
            out.print(f"{name}{line}: [{colour}]{finding.severity}[/{colour}]{field} "
                      f"{finding.message} [dim]\\[{finding.code}][/dim]", highlight=False)
        errors, warnings = len(report.errors), len(report.warnings)
        out.print(f"{name}: {errors} error(s), {warnings} warning(s)", highlight=False)
        failed = failed or errors > 0 or (strict and warnings > 0)
    raise typer.Exit(1 if failed else 0)


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
    kind: Annotated[str, typer.Option(help="tiers, triggers or kpis.")] = "tiers",
) -> None:
    """Print the JSON Schema of rule files (for editors' completion and validation)."""
    schemas = {"tiers": ("vip_workflow.rules.tiers.book", "rules_schema"),
               "triggers": ("vip_workflow.rules.triggers", "triggers_schema"),
               "kpis": ("vip_workflow.rules.kpis.book", "kpis_schema")}
    if kind not in schemas:
        err.print(f"[red]no kind {kind!r}: one of {', '.join(schemas)}[/red]")
        raise typer.Exit(2)
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


def _read(path: Path) -> pl.DataFrame:
    suffix = path.suffix.lower()
    if not path.exists():
        err.print(f"[red]{path}: file not found[/red]")
        raise typer.Exit(1)
    if suffix == ".parquet":
        return pl.read_parquet(path)
    if suffix == ".csv":
        return pl.read_csv(path, infer_schema_length=10_000)
    if suffix in (".json", ".ndjson", ".jsonl"):
        return pl.read_ndjson(path) if suffix != ".json" else pl.read_json(path)
    err.print(f"[red]{path}: read CSV, Parquet or JSON lines, not {suffix or 'no suffix'}[/red]")
    raise typer.Exit(2)


_WRITTEN = (".parquet", ".csv", ".ndjson", ".jsonl")


def _check_writable(path: Path) -> None:
    """Refuse (exit 2) an output path whose format ``_write`` cannot write — before any work."""
    if path.suffix.lower() not in _WRITTEN:
        err.print(f"[red]{path}: write .csv, .parquet or .ndjson[/red]")
        raise typer.Exit(2)


def _write(frame: pl.DataFrame, path: Path) -> None:
    _check_writable(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame.write_parquet(path)
    elif suffix == ".csv":
        frame.write_csv(path)
    else:
        frame.write_ndjson(path)


def _judge_with_progress(book: vw.RuleBook, frame: pl.DataFrame, quiet: bool) -> pl.DataFrame:
    if frame.height <= CHUNK or book.needs_portfolio or quiet:
        return book.judge_many(frame)
    parts = []
    with Progress(TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err) as progress:
        task = progress.add_task("judge", total=frame.height)
        for start in range(0, frame.height, CHUNK):
            part = frame.slice(start, CHUNK)
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
    input: Annotated[Path, typer.Argument(help="Customers: CSV, Parquet or JSON lines.")],
    rules: RulesOption = None,
    preset: PresetOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write the judged rows here.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no summary.")] = False,
) -> None:
    """Judge every customer in a file; write the result and print a tier summary."""
    if output:
        _check_writable(output)
    from vip_workflow.cycle.checks import check_columns
    from vip_workflow.errors import MissingColumnsError

    book = _book(rules, preset, tiers_only=True)
    frame = _read(input)
    try:
        check_columns(book, frame.columns, source=str(input))
    except MissingColumnsError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    judged = _judge_with_progress(book, frame, quiet)
    if output:
        _write(judged, output)
    if not quiet:
        out.print(summary_table(book, judged, title=f"{book.name}: {frame.height:,} customers"))
        reasons = judged.filter(pl.col("reason").is_not_null()).get_column("reason")
        for reason, n in reasons.value_counts(sort=True).head(5).iter_rows():
            out.print(f"  could not judge {n:,}: {reason}", highlight=False)
        if output:
            out.print(f"wrote {output}")


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
    fields: Annotated[list[str], typer.Argument(help="Fields as name=value, e.g. revenue=17500.")],
    rules: RulesOption = None,
    preset: PresetOption = None,
) -> None:
    """Judge one customer given on the command line and explain the decision."""
    book = _book(rules, preset, tiers_only=True)
    record: dict[str, Any] = {}
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep:
            err.print(f"[red]{item!r}: write fields as name=value[/red]")
            raise typer.Exit(2)
        record[name] = _parse_value(value)
    try:
        decision = book.judge(record)
    except vw.PortfolioRequiredError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    out.print(decision.explain(), highlight=False)
    raise typer.Exit(0 if decision.ok else 1)


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
    data: Annotated[Path, typer.Option("--data", help="Portfolio: CSV, Parquet, JSON lines.")],
    history: Annotated[Path | None, typer.Option(
        "--history", help="Monthly history for the triggers (CSV or Parquet).")] = None,
    kpi_data: Annotated[Path | None, typer.Option(
        "--kpi-data", help="Portfolio the KPIs are checked on (default: --data; KPIs it has "
        "no columns for are skipped with a warning).")] = None,
) -> None:
    """Run the monthly cycle for one period: tiers, changes, reviews, signals, KPIs, report."""
    try:
        workspace = vw.Workspace.from_file(config)
        result = workspace.run_cycle(period, _read(data),
                                     history=_read(history) if history else None,
                                     kpi_data=_read(kpi_data) if kpi_data else None)
    except vw.RuleFileError as exc:
        _print_rule_error(exc)
        raise typer.Exit(1) from None
    except vw.VipWorkflowError as exc:
        err.print(f"[red]error:[/red] {type(exc).__name__}: {exc}", highlight=False)
        raise typer.Exit(1) from None
    out.print(result.summary(), highlight=False)


@app.command()
def diff(
    rules: Annotated[tuple[Path, Path], typer.Option("--rules", help="OLD and NEW rule files.")],
    data: Annotated[Path, typer.Option(
        "--data", help="Customers (tier rules) or a monthly history (trigger rules).")],
    show: Annotated[int, typer.Option(help="How many changed customers to list.")] = 10,
) -> None:
    """Preview a rule change: who changes tier, or which signals appear and disappear.

    OLD and NEW must be of the same kind: two tier rule files or two trigger files (KPI files
    are not compared; check each with ``vip-workflow kpi``). Other pairs exit with code 2.
    """
    from vip_workflow.rules.versions import diff_signals, diff_tiers

    try:
        old_book, new_book = (vw.load_rules(path) for path in rules)
    except vw.RuleFileError as exc:
        _print_rule_error(exc)
        raise typer.Exit(1) from None
    names = {"tiers": "a tier rule file", "triggers": "a trigger file", "kpis": "a KPI file"}
    kinds = ["tiers" if isinstance(book, vw.RuleBook) else "triggers"
             if isinstance(book, vw.TriggerBook) else "kpis" if isinstance(book, vw.KpiBook)
             else str(getattr(getattr(book, "rules", None), "kind", "unknown"))
             for book in (old_book, new_book)]
    described = " and ".join(f"{path} is {names.get(kind, f'a {kind!r} file')}"
                             for path, kind in zip(rules, kinds, strict=True))
    if kinds[0] != kinds[1]:
        problem = f"diff compares two files of the same kind, but {described}."
    elif kinds[0] not in ("tiers", "triggers"):
        plural = "KPI files" if kinds[0] == "kpis" else f"{kinds[0]!r} files"
        problem = (f"diff compares tier rule files or trigger files, not {plural} "
                   f"({rules[0]}, {rules[1]}).")
        if kinds[0] == "kpis":
            problem += f" Check each KPI file instead: vip-workflow kpi {data} -r FILE"
    else:
        problem = ""
    if problem:
        err.print(problem, style="red", markup=False, highlight=False)
        raise typer.Exit(2)
    frame = _read(data)
    if not isinstance(old_book, vw.RuleBook):
        signals = diff_signals(old_book, new_book, frame)
        out.print(signals.summary(), highlight=False)
        table = Table("trigger", "before", "after", "appear", "disappear",
                      title="signals by trigger")
        for row in signals.by_trigger().iter_rows():
            table.add_row(str(row[0]), *(f"{n:,}" for n in row[1:]))
        out.print(table)
        return
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


def _mount_processes() -> None:
    from importlib import import_module, util

    if util.find_spec("vip_workflow.cli.processes") is None:
        return
    app.add_typer(import_module("vip_workflow.cli.processes").process_app, name="process")


_mount_processes()
_mount_triggers()
_mount_adapters()


def main() -> None:
    """Entry point of the ``vip-workflow`` script."""
    app()

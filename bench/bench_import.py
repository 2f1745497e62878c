"""Import cost and installed size of vip_workflow.

    python -m bench import                # import cost: fresh interpreters, best of 5
    python -m bench import --runs 9       # more interpreters per row
    python -m bench import --install      # also pip install the project into a fresh venv
                                          # under /tmp and measure site-packages (slow)

* **import** — wall time of ``python -c "import vip_workflow"`` minus ``python -c pass``, each
  the best of ``--runs`` fresh interpreters, and the modules the import loads; the same for
  ``vip_workflow.preset("hubei-2006")`` for scale. Floor: ≤ 150 ms over bare Python.
* **install** (``--install``) — a fresh venv, ``pip install <repo>`` (non-editable, core
  dependencies only), then the size of site-packages in MB (10⁶ bytes) without pip and
  setuptools, and the five biggest distributions. Floor: ≤ 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in {None, ""}:  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from bench._harness import machine

ROOT = Path(__file__).resolve().parent.parent
IMPORT_FLOOR_MS = 150.0
SIZE_FLOOR_MB = 300.0
MB = 1_000_000
TOOLS = {"pip", "setuptools"}  # the venv's own installers, not the project's cost

_COUNT = ("import sys; before = set(sys.modules); {code}; "
          "print(len(set(sys.modules) - before), len(sys.modules))")


@dataclass
class ImportRow:
    label: str
    code: str
    best_ms: float
    loaded: int  # modules the code added to sys.modules
    total: int  # modules in sys.modules afterwards


def _env() -> dict[str, str]:
    """The caller's environment with this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _best_ms(code: str, runs: int) -> float:
    """Fastest wall time of ``runs`` fresh interpreters running ``code``, in ms."""
    best = float("inf")
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=_env())
        best = min(best, time.perf_counter() - start)
    return best * 1000


def _modules(code: str) -> tuple[int, int]:
    done = subprocess.run([sys.executable, "-c", _COUNT.format(code=code)], check=True,
                          cwd=ROOT, env=_env(), capture_output=True, text=True)
    loaded, total = done.stdout.split()
    return int(loaded), int(total)


def measure_imports(runs: int) -> tuple[float, list[ImportRow]]:
    bare = _best_ms("pass", runs)
    rows = []
    for label, code in [
        ("import vip_workflow", "import vip_workflow"),
        ('+ vip_workflow.preset("hubei-2006")',
         "import vip_workflow; vip_workflow.preset('hubei-2006')"),
    ]:
        rows.append(ImportRow(label, code, _best_ms(code, runs), *_modules(code)))
    return bare, rows


def _verdict(ok: bool) -> str:
    return "[green]PASS[/green]" if ok else "[red]FAIL[/red]"


def report_imports(console: Console, runs: int) -> None:
    bare, rows = measure_imports(runs)
    table = Table("code", "best ms", "over bare Python", "modules loaded", "sys.modules",
                  title=f"import cost, best of {runs} fresh interpreters ({machine()})")
    table.add_row("python -c pass", f"{bare:.1f}", "—", "—", "—")
    for row in rows:
        table.add_row(row.label, f"{row.best_ms:.1f}", f"{row.best_ms - bare:+.1f} ms",
                      str(row.loaded), str(row.total))
    console.print(table)
    over = rows[0].best_ms - bare
    console.print(f"floor: import vip_workflow ≤ {IMPORT_FLOOR_MS:.0f} ms over bare Python: "
                  f"{over:.1f} ms {_verdict(over <= IMPORT_FLOOR_MS)}")


# -- installed size ----------------------------------------------------------------------------

_SIZES = """
import json, os, sys, sysconfig
from importlib.metadata import distributions
site = sysconfig.get_paths()["purelib"]
total = 0
for folder, _, files in os.walk(site):
    total += sum(os.path.getsize(os.path.join(folder, f)) for f in files
                 if not os.path.islink(os.path.join(folder, f)))
sizes = {}
for dist in distributions(path=[site]):
    size = 0
    for file in dist.files or []:
        path = file.locate()
        if os.path.isfile(path) and not os.path.islink(path):
            size += os.path.getsize(path)
    sizes[dist.metadata["Name"]] = size
print(json.dumps({"total": total, "sizes": sizes}))
"""


def measure_install(folder: Path) -> tuple[int, dict[str, int], float]:
    """Install the project into a fresh venv in ``folder``: (bytes without the installers,
    bytes per distribution, seconds the install took)."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = str(folder / "bin" / "python")
    start = time.perf_counter()
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    str(ROOT)], check=True, cwd=folder)
    seconds = time.perf_counter() - start
    done = subprocess.run([python, "-c", _SIZES], check=True, capture_output=True, text=True)
    found = json.loads(done.stdout)
    sizes = {name.lower(): size for name, size in found["sizes"].items()}
    tools = sum(size for name, size in sizes.items() if name in TOOLS)
    project = {name: size for name, size in sizes.items() if name not in TOOLS}
    return found["total"] - tools, project, seconds


def report_install(console: Console, keep: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="vw-bench-install-"))
    console.print(f"installing {ROOT} into a fresh venv at {folder} …")
    total, sizes, seconds = measure_install(folder / "venv")
    table = Table("distribution", "MB", "share",
                  title=f"installed size: pip install (core), {len(sizes)} distributions, "
                        f"{seconds:.0f} s to install")
    for name, size in sorted(sizes.items(), key=lambda item: -item[1])[:5]:
        table.add_row(name, f"{size / MB:.1f}", f"{size / total:.0%}")
    table.add_row("[bold]site-packages without pip, setuptools[/bold]",
                  f"[bold]{total / MB:.1f}[/bold]", "100%")
    console.print(table)
    console.print(f"floor: installed size ≤ {SIZE_FLOOR_MB:.0f} MB: {total / MB:.1f} MB "
                  f"{_verdict(total / MB <= SIZE_FLOOR_MB)}")
    if not keep:
        shutil.rmtree(folder)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench import")
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per row")
    parser.add_argument("--install", action="store_true",
                        help="also measure the installed size in a fresh venv (slow)")
    parser.add_argument("--keep-venv", action="store_true", help="leave the venv in /tmp")
    args, _ = parser.parse_known_args(argv)  # other benches' options pass through
    console = Console()
    report_imports(console, args.runs)
    if args.install:
        report_install(console, args.keep_venv)


if __name__ == "__main__":
    main()

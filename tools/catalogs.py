"""The message catalogs: extract, update and compile them with Babel.

Two catalogs: the workbench's (``vip_workflow/adapters/server/web/locale``) and the period
dashboard's (``vip_workflow/reporting/locale``, shared by the workbench and the static
report; the workbench's catalog falls back to it).

    python -m tools.catalogs            # extract messages.pot, update the .po files, compile
    python -m tools.catalogs --check    # fail if a .po lacks a message or a .mo is stale

Translate new messages in ``locale/zh_CN/LC_MESSAGES/messages.po`` (English needs none: an
empty ``msgstr`` shows the message as written) and run it again.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

PACKAGE = Path(__file__).resolve().parents[1] / "vip_workflow"
WEB = PACKAGE / "adapters" / "server" / "web"
REPORTING = PACKAGE / "reporting"
#: the folders whose messages make a catalog (in ``<folder>/locale``)
SOURCES = (WEB, REPORTING)
LANGS = ("zh_CN", "en")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def extract(source: Path = WEB) -> Catalog:
    """Every message of ``source``'s Python modules and templates."""
    catalog = Catalog(project="vip_workflow", fuzzy=False)
    methods = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for _file, _line, message, comments, context in extract_from_dir(
            source, methods, options_map=options, keywords=KEYWORDS):
        catalog.add(message, None, [], auto_comments=comments, context=context)
    return catalog


def _po(lang: str, source: Path = WEB) -> Path:
    return source / "locale" / lang / "LC_MESSAGES" / "messages.po"


def _read(lang: str, source: Path = WEB) -> Catalog:
    path = _po(lang, source)
    if not path.exists():
        return Catalog(locale=lang, project="vip_workflow", fuzzy=False)
    with path.open("rb") as f:
        return read_po(f, locale=lang)


def _mo_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def update(source: Path = WEB) -> None:
    """Write ``source``'s messages.pot, merge it into each .po and compile each .mo."""
    template = extract(source)
    (source / "locale").mkdir(parents=True, exist_ok=True)
    with (source / "locale" / "messages.pot").open("wb") as f:
        write_po(f, template, omit_header=True, sort_output=True, no_location=True)
    for lang in LANGS:
        catalog = _read(lang, source)
        catalog.update(template, no_fuzzy_matching=True)
        po = _po(lang, source)
        po.parent.mkdir(parents=True, exist_ok=True)
        with po.open("wb") as f:
            write_po(f, catalog, sort_output=True, no_location=True, ignore_obsolete=True)
        po.with_suffix(".mo").write_bytes(_mo_bytes(catalog))


def problems(sources: tuple[Path, ...] = SOURCES) -> list[str]:
    """Messages missing from a .po, untranslated Chinese, and .mo files not compiled from
    their .po, in each catalog of ``sources``."""
    found = []
    for source in sources:
        found += [f"{source.name}: {p}" for p in _problems(source)]
    return found


def _problems(source: Path) -> list[str]:
    found = []
    template = extract(source)
    for lang in LANGS:
        catalog = _read(lang, source)
        missing = [m.id for m in template if m.id and m.id not in catalog]
        found += [f"{lang}: not in the .po: {m!r}" for m in missing]
        if lang == "zh_CN":
            found += [f"zh_CN: not translated: {m.id!r}" for m in catalog
                      if m.id and not m.string]
        mo = _po(lang, source).with_suffix(".mo")
        with mo.open("rb") as f:
            compiled = {m.id: m.string for m in read_mo(f) if m.id}
        written = {m.id: m.string for m in catalog if m.id and m.string}
        if {k: v for k, v in compiled.items() if v} != written:
            found.append(f"{lang}: {mo.name} is stale: run python -m tools.catalogs")
    return found


def main(argv: list[str]) -> int:
    if "--check" in argv:
        found = problems()
        print("\n".join(found) or "catalogs: up to date")
        return 1 if found else 0
    for source in SOURCES:
        update(source)
        print(f"catalogs: {source / 'locale'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The dashboard's Jinja2 environment: autoescaped, gettext installed, formatting filters.

The workbench builds its environment here too, with its own templates searched first, so a
period's dashboard is one set of templates whether it is served or written to a file.
"""

from __future__ import annotations

import gettext
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vip_workflow._extras import require
from vip_workflow.reporting import format as fmt

if TYPE_CHECKING:
    import jinja2

__all__ = ["TEMPLATES", "environment"]

TEMPLATES = Path(__file__).parent / "templates"


def environment(lang: str, translations: gettext.NullTranslations, *,
                search: Sequence[Path] = ()) -> jinja2.Environment:
    """A template environment for ``lang``: the folders ``search`` first, then the
    dashboard's templates; filters ``number``, ``percent``, ``measure``, ``target``, ``when``."""
    jinja = require("jinja2", "the monthly report and the workbench")
    loader = jinja.FileSystemLoader([*search, TEMPLATES])
    env: jinja2.Environment = jinja.Environment(
        loader=loader, autoescape=True, undefined=jinja.StrictUndefined,
        extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    env.filters["number"] = lambda v, digits=2: fmt.number(v, lang, digits)
    env.filters["percent"] = lambda v, digits=1: fmt.percent(v, lang, digits)
    env.filters["measure"] = lambda v, unit, signed=False: fmt.measure(v, unit, lang,
                                                                       signed=signed)
    env.filters["target"] = lambda v, unit: fmt.target(v, unit, lang)
    env.filters["when"] = fmt.when
    env.globals["lang"] = lang
    env.globals["html_lang"] = "zh-CN" if lang == "zh_CN" else lang
    return env

"""The workbench's languages: Simplified Chinese (default) and English, gettext catalogs.

The catalogs live in ``locale/`` beside this module (``messages.pot``, and ``zh_CN`` and
``en`` ``.po`` files with their compiled ``.mo``), managed with Babel::

    pybabel extract -F vip_workflow/adapters/server/web/babel.cfg \\
        -o vip_workflow/adapters/server/web/locale/messages.pot vip_workflow/adapters/server/web
    pybabel update -i …/locale/messages.pot -d …/locale
    pybabel compile -d …/locale

Messages of the period dashboard (shared with the static report) are in the catalog of
``vip_workflow.reporting``; this catalog falls back to it.

A request's language is the user's choice (the ``vw_lang`` cookie the language switch sets),
then the browser's ``Accept-Language``, then Chinese.
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from pathlib import Path

from vip_workflow.reporting import i18n as _dashboard
from vip_workflow.reporting.i18n import DEFAULT, LANGUAGES

__all__ = ["DEFAULT", "LANGUAGES", "LOCALE_DIR", "choose", "translations"]

LOCALE_DIR = Path(__file__).parent / "locale"


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang``, falling back to the dashboard's (a missing one
    translates nothing)."""
    catalog = gettext.translation("messages", LOCALE_DIR, languages=[lang], fallback=True)
    catalog.add_fallback(_dashboard.translations(lang))
    return catalog


def _known(tag: str) -> str | None:
    tag = tag.strip().replace("-", "_").lower()
    if tag.startswith("zh"):
        return "zh_CN"
    if tag == "en" or tag.startswith("en_"):
        return "en"
    return None


def _accepted(header: str) -> list[tuple[float, int, str]]:
    ranked = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        lang = _known(tag)
        if lang is not None and quality > 0:
            ranked.append((-quality, position, lang))
    return sorted(ranked)


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The language of a request: the cookie's, then ``Accept-Language``'s, then Chinese."""
    if cookie in LANGUAGES:
        return cookie
    for _q, _pos, lang in _accepted(accept_language or ""):
        return lang
    return DEFAULT

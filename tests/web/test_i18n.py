"""Choosing the language: the user's cookie, then Accept-Language, then Chinese."""

from __future__ import annotations

import pytest

from vip_workflow.adapters.server.web.i18n import choose, translations


@pytest.mark.parametrize(("cookie", "header", "expected"), [
    (None, None, "zh_CN"),
    (None, "en-US,en;q=0.9", "en"),
    (None, "fr-FR,fr;q=0.9,en;q=0.5", "en"),
    (None, "en;q=0.4,zh-TW;q=0.8", "zh_CN"),
    (None, "de, fr", "zh_CN"),
    (None, "en;q=0", "zh_CN"),
    (None, "en;q=abc", "zh_CN"),
    ("en", "zh-CN", "en"),
    ("zh_CN", "en", "zh_CN"),
    ("xx", "en", "en"),
])
def test_choose(cookie: str | None, header: str | None, expected: str) -> None:
    assert choose(cookie, header) == expected


def test_catalogs_translate() -> None:
    assert translations("zh_CN").gettext("My inbox") == "我的待办"
    assert translations("en").gettext("My inbox") == "My inbox"

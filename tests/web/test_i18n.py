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


def test_the_sla_clock_in_both_languages() -> None:
    """Overdue work says by how long, in days and hours (hours and minutes under a day)."""
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    from vip_workflow.adapters.server.web.work_pages import _clock

    now = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    late = SimpleNamespace(next_due=now - timedelta(days=2, hours=3, minutes=5))
    soon = SimpleNamespace(next_due=now + timedelta(hours=5, minutes=30))
    assert _clock(late, now, translations("en").gettext) == {
        "overdue": True, "text": "overdue by 2 d 3 h"}
    assert _clock(soon, now, translations("zh_CN").gettext) == {
        "overdue": False, "text": "剩余 5 小时 30 分钟"}
    assert _clock(SimpleNamespace(next_due=None), now, translations("en").gettext) is None

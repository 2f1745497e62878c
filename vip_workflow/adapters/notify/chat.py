"""A notifier for enterprise chat — WeCom, DingTalk, Feishu, Slack and anything else apprise
speaks — through apprise URLs.

    ChatNotifier("wecombot://KEY")                       # WeCom group robot
    ChatNotifier("dingtalk://SECRET@TOKEN/")             # DingTalk robot (signed)
    ChatNotifier("feishu://TOKEN")                       # Feishu / Lark bot
    ChatNotifier("https://hooks.slack.com/services/A/B/C")  # Slack incoming webhook
    ChatNotifier.wecom("KEY"), .dingtalk("TOKEN", secret=...), .feishu(...), .slack(...)

Chat services do not deduplicate, so the idempotency key is put at the end of the message for
people and bots that do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from vip_workflow.domain.instances import Notice
from vip_workflow.errors import DeliveryError

__all__ = ["ChatNotifier", "default_text"]


def default_text(notice: Notice) -> tuple[str, str]:
    """Title and body of the chat message for ``notice``."""
    who = ", ".join([*notice.users, *(f"@{r}" for r in notice.roles)]) or "-"
    title = f"{notice.kind.replace('_', ' ')}: {notice.process}"
    body = f"{notice.process} {notice.instance_id} is in {notice.state} (for {who})"
    return title, body


class ChatNotifier:
    """Sends each notice to every apprise URL given.

    Args:
        urls: apprise URLs (one or many).
        text: ``notice -> (title, body)``; default ``default_text``.
        show_key: append ``key: …`` to the body.
    """

    def __init__(self, urls: str | Iterable[str], *,
                 text: Callable[[Notice], tuple[str, str]] = default_text,
                 show_key: bool = True) -> None:
        import apprise

        self.urls = [urls] if isinstance(urls, str) else list(urls)
        self.text = text
        self.show_key = show_key
        self._apprise: Any = apprise.Apprise()
        for url in self.urls:
            if not self._apprise.add(url):
                raise ValueError(f"apprise does not understand the URL {_mask(url)!r}")

    def __repr__(self) -> str:
        return f"ChatNotifier({[_mask(u) for u in self.urls]!r})"

    @classmethod
    def wecom(cls, key: str, **kwargs: Any) -> ChatNotifier:
        """A WeCom (企业微信) group robot, by its webhook key."""
        return cls(f"wecombot://{key}", **kwargs)

    @classmethod
    def dingtalk(cls, token: str, *, secret: str | None = None, **kwargs: Any) -> ChatNotifier:
        """A DingTalk (钉钉) robot, by its access token (and signing secret)."""
        return cls(f"dingtalk://{secret + '@' if secret else ''}{token}/", **kwargs)

    @classmethod
    def feishu(cls, token: str, **kwargs: Any) -> ChatNotifier:
        """A Feishu (飞书) bot, by its webhook token."""
        return cls(f"feishu://{token}", **kwargs)

    @classmethod
    def slack(cls, webhook_url: str, **kwargs: Any) -> ChatNotifier:
        """A Slack incoming webhook (``https://hooks.slack.com/services/…`` or ``slack://…``)."""
        return cls(webhook_url, **kwargs)

    def send(self, notice: Notice, *, key: str | None = None) -> None:
        """Post the notice (``DeliveryError``, retryable, when any service refused it)."""
        title, body = self.text(notice)
        if key and self.show_key:
            body = f"{body}\nkey: {key}"
        try:
            ok = self._apprise.notify(title=title, body=body)
        except Exception as exc:
            raise DeliveryError(f"chat: {type(exc).__name__}: {exc}", retryable=True) from exc
        if not ok:
            raise DeliveryError(f"chat: {notice.kind} of {notice.instance_id} was not accepted "
                                f"by {[_mask(u) for u in self.urls]}", retryable=True)


def _mask(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://…" if rest else url

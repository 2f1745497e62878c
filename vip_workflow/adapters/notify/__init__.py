"""Notifier adapters (the ``Notifier`` port)."""

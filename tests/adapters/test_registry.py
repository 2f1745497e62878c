"""Adapter lookup through entry points, run-time registration, protocol checks, the CLI
command functions and the composition root."""

from __future__ import annotations

import time

import pytest
import typer
from typer.testing import CliRunner

from tests.adapters.receivers import HTTPReceiver
from vip_workflow import registry
from vip_workflow.adapters.notify.email import EmailNotifier
from vip_workflow.adapters.notify.webhook import WebhookNotifier
from vip_workflow.adapters.storage.memory import MemoryInstanceStore
from vip_workflow.adapters.storage.sql import SQLInstanceStore, current_revision
from vip_workflow.bootstrap import bootstrap, build_dispatcher
from vip_workflow.cli.db import db_upgrade_command, dispatch_command
from vip_workflow.domain.instances import Actor
from vip_workflow.errors import AdapterNotFoundError, ConfigError
from vip_workflow.outbox import FanoutNotifier
from vip_workflow.testing.contract import new_instance


@pytest.fixture
def clean_registry():
    saved = {group: dict(found) for group, found in registry._registered.items()}
    yield
    for group, found in saved.items():
        registry._registered[group] = found


class TestEntryPoints:
    """The built-ins are found through the entry-point groups, like any plugin."""

    def test_the_builtins_are_entry_points(self) -> None:
        """Storage and notifier names come from the installed entry points."""
        assert {"memory", "sqlite", "postgresql"} <= set(registry.storage_names())
        assert {"log", "memory", "webhook", "email", "amqp", "nats", "chat"} <= set(
            registry.notifier_names())

    @pytest.mark.parametrize(("url", "kind"), [("memory://", MemoryInstanceStore),
                                                ("sqlite://", SQLInstanceStore)])
    def test_urls_choose_the_storage_adapter(self, url, kind) -> None:
        """memory:// and sqlite:// open their adapters."""
        assert isinstance(registry.open_store(url), kind)

    def test_a_postgres_url_opens_the_sql_store(self, pg_schema) -> None:
        """postgresql+psycopg:// opens the SQL store on PostgreSQL."""
        store = registry.open_store(pg_schema)
        assert isinstance(store, SQLInstanceStore) and store.engine.dialect.name == "postgresql"
        store.close()

    def test_an_unknown_scheme_lists_the_known_ones(self) -> None:
        """AdapterNotFoundError names the group and the adapters one could use."""
        with pytest.raises(AdapterNotFoundError) as info:
            registry.open_store("mongodb://host/db")
        assert info.value.group == "vip_workflow.storage"
        assert "sqlite" in str(info.value) and "memory" in str(info.value)

    @pytest.mark.parametrize(("spec", "kind"), [
        ("https://example.com/hook", WebhookNotifier),
        ("webhook+http://example.com/hook", WebhookNotifier),
        ("smtp://mail.example.com:587?from=a@x.cn&to=b@x.cn&starttls=1", EmailNotifier),
        ({"type": "webhook", "url": "https://e.com/h", "secret": "s"}, WebhookNotifier),
        (["log://", "memory://"], FanoutNotifier),
    ])
    def test_notifier_specs(self, spec, kind) -> None:
        """URLs, config mappings and lists open notifiers."""
        assert isinstance(registry.open_notifier(spec), kind)

    def test_a_config_without_type_is_a_config_error(self) -> None:
        """{'url': …} alone does not say which notifier."""
        with pytest.raises(ConfigError, match="type"):
            registry.open_notifier({"url": "https://e.com"})


class TestRegistration:
    """register_storage / register_notifier for notebooks and tests."""

    def test_a_registered_factory_serves_its_scheme(self, clean_registry) -> None:
        """A factory registered under a name opens URLs of that scheme."""
        seen = []

        def factory(url: str) -> MemoryInstanceStore:
            seen.append(url)
            return MemoryInstanceStore()

        registry.register_storage("scratch", factory)
        assert isinstance(registry.open_store("scratch://x"), MemoryInstanceStore)
        assert seen == ["scratch://x"]
        assert "scratch" in registry.storage_names()

    def test_an_adapter_missing_methods_is_refused_by_name(self, clean_registry) -> None:
        """A class lacking protocol methods cannot be registered; the error names it."""

        class HalfStore:
            def get(self, instance_id: str) -> None: ...

        with pytest.raises(ConfigError, match=r"HalfStore.*commit"):
            registry.register_storage("half", HalfStore)

    def test_a_method_with_the_wrong_parameters_is_refused(self, clean_registry) -> None:
        """send() must take the notice."""

        class Odd:
            def send(self) -> None: ...

        with pytest.raises(ConfigError, match="send\\(\\) does not take notice"):
            registry.register_notifier("odd", Odd)


class TestCommands:
    """db_upgrade_command and dispatch_command, as the CLI registers them."""

    @pytest.fixture
    def app(self) -> typer.Typer:
        app = typer.Typer()
        db = typer.Typer()
        db.command("upgrade")(db_upgrade_command)
        app.add_typer(db, name="db")
        app.command("dispatch")(dispatch_command)
        return app

    def test_db_upgrade(self, app, tmp_path) -> None:
        """`db upgrade URL` creates the schema, and says so; a second run changes nothing."""
        url = f"sqlite:///{tmp_path / 'vip.db'}"
        result = CliRunner().invoke(app, ["db", "upgrade", url])
        assert result.exit_code == 0, result.output
        assert "upgraded" in result.output and current_revision(url)
        again = CliRunner().invoke(app, ["db", "upgrade", url])
        assert "already" in again.output

    def test_db_upgrade_of_a_foreign_file_fails_clearly(self, app, tmp_path) -> None:
        """A corrupt file: exit code 1 and the reason."""
        path = tmp_path / "x.db"
        path.write_bytes(b"junk" * 1000)
        result = CliRunner().invoke(app, ["db", "upgrade", f"sqlite:///{path}"])
        assert result.exit_code == 1 and "corrupt" in result.output

    def test_dispatch_delivers_the_outbox(self, app, tmp_path) -> None:
        """`dispatch URL -n WEBHOOK` delivers what an engine left in the outbox."""
        url = f"sqlite:///{tmp_path / 'vip.db'}"
        engine = bootstrap(url, notifier={"type": "webhook", "url": "http://127.0.0.1:9/x",
                                          "timeout": 0.2})
        engine.start("sales", {"customer_id": "c1"}, actor=Actor("am1", {"account_manager"}))
        assert engine.store.pending_notices()
        time.sleep(1.2)  # the engine's failed attempt backs off for about a second
        receiver = HTTPReceiver().start()
        try:
            result = CliRunner().invoke(app, ["dispatch", url, "-n", receiver.url])
            assert result.exit_code == 0, result.output
            assert "delivered 1" in result.output
            assert [p.kind for p in receiver.payloads()] == ["task_assigned"]
        finally:
            receiver.stop()


class TestBootstrap:
    """The composition root wires a store, a notifier and the engine."""

    def test_bootstrap_and_dispatcher_share_the_store(self, tmp_path) -> None:
        """An engine on SQLite, a dispatcher on the same URL delivering its notices."""
        url = f"sqlite:///{tmp_path / 'vip.db'}"
        store = registry.open_store(url)
        inst, entries = new_instance()
        from vip_workflow.domain.instances import Notice

        store.commit(inst, None, entries, [Notice("k", inst.id, "sales", "draft",
                                                  inst.created_at)])
        dispatcher = build_dispatcher(url, "memory://")
        assert dispatcher.dispatch().delivered == 1
        assert len(dispatcher.notifier.notices) == 1

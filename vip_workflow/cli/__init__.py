"""The command line, ``vip-workflow``: one package, the public API only."""

from vip_workflow.cli.main import app, main

__all__ = ["app", "main"]

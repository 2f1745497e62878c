"""The public API: everything in __all__ exists, and the error tree holds together."""

from __future__ import annotations

import vip_workflow as vw


def test_every_name_in_all_is_exported() -> None:
    """__all__ names only what exists, once."""
    assert len(vw.__all__) == len(set(vw.__all__))
    for name in vw.__all__:
        assert hasattr(vw, name), name


def test_the_issue_contract_names_exist() -> None:
    """The names other systems rely on."""
    contract = (
        # rules core
        "load_rules", "preset", "presets", "RuleBook", "Decision", "RuleFileError",
        "VipWorkflowError",
        # process engine and adapters
        "ProcessEngine", "Actor", "PermissionDenied", "ConcurrentUpdateError",
        "retry_on_conflict", "MemoryInstanceStore", "MemoryNotifier",
        # the monthly cycle
        "Workspace",
    )
    for name in contract:
        assert name in vw.__all__, name


def test_every_error_is_a_vip_workflow_error_with_a_code() -> None:
    """One tree, each class with its own stable code."""
    errors = [getattr(vw, n) for n in vw.__all__
              if isinstance(getattr(vw, n), type) and issubclass(getattr(vw, n), BaseException)]
    assert all(issubclass(e, vw.VipWorkflowError) for e in errors)
    codes = [e.code for e in errors]
    assert len(codes) == len(set(codes))

"""Optional dependencies: a missing one is a clear error naming the extra to install."""

from __future__ import annotations

import sys

import pytest

from vip_workflow import _extras
from vip_workflow.errors import ConfigError, MissingExtraError


class TestRequire:
    def test_an_installed_module_is_returned(self) -> None:
        """require gives the module itself when it is there."""
        assert _extras.require("json", "reading JSON").__name__ == "json"

    @pytest.mark.parametrize(("module", "extra"), sorted(_extras.EXTRAS.items()))
    def test_a_missing_module_names_its_extra(self, module: str, extra: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
        """With the module blocked, the error says which extra installs it."""
        monkeypatch.setitem(sys.modules, module, None)  # how Python marks a module unimportable
        with pytest.raises(MissingExtraError, match=rf"vip_workflow\[{extra}\]") as caught:
            _extras.require(module, "this feature")
        assert (caught.value.module, caught.value.extra) == (module, extra)
        assert isinstance(caught.value, ConfigError)
        assert isinstance(caught.value, ImportError)

    def test_an_unknown_module_points_at_all(self) -> None:
        """A module no extra lists is still explained (install everything)."""
        with pytest.raises(MissingExtraError, match=r"vip_workflow\[all\]"):
            _extras.require("vip_workflow_no_such_module", "this feature")

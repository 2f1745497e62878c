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


class TestNumpyIsAnExtra:
    """numpy is not a core dependency: only the sample generators and fit_weights need it."""

    def test_a_lazy_module_imports_on_first_use(self) -> None:
        """The stand-in costs nothing until used, then is the real module's attribute."""
        lazy = _extras.LazyModule("json", "reading JSON")
        assert lazy.dumps([1]) == "[1]"

    def test_samples_without_numpy_name_the_extra(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The shipped sample still loads; generating one asks for vip_workflow[numpy]."""
        from vip_workflow.samples import load_sample_portfolio, sample_portfolio

        monkeypatch.setitem(sys.modules, "numpy", None)
        assert load_sample_portfolio().height == 2_000
        with pytest.raises(MissingExtraError, match=r"vip_workflow\[numpy\]"):
            sample_portfolio(10)

    def test_fit_weights_without_numpy_names_the_extra(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        """fit_weights says which extra to install rather than failing on an import."""
        from vip_workflow.rules.tiers.fitting import fit_weights

        monkeypatch.setitem(sys.modules, "numpy", None)
        with pytest.raises(MissingExtraError, match=r"fit_weights needs 'numpy'"):
            fit_weights([{"y": 1.0, "x": 2.0}], target="y", features=["x"])

    def test_trigger_evidence_without_numpy(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The batch scan builds its evidence with polars alone."""
        import polars as pl

        from vip_workflow.rules.triggers.batch import _evidence_column

        monkeypatch.setitem(sys.modules, "numpy", None)
        values = pl.DataFrame({"v0": [1.0, None, 3.0], "v1": [float("nan"), 5.0, 6.0]})
        evidence = _evidence_column(["a", "b"], values).to_list()
        assert evidence == [
            [{"name": "a", "value": 1.0}, {"name": "b", "value": None}],
            [{"name": "a", "value": None}, {"name": "b", "value": 5.0}],
            [{"name": "a", "value": 3.0}, {"name": "b", "value": 6.0}],
        ]


class TestSparkIsAnExtra:
    def test_the_spark_back_end_imports_without_pyspark(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The back end's module loads without pyspark (the registry imports it to ask what
        it accepts); lowering anything asks for vip_workflow[spark]."""
        import importlib

        for name in [m for m in sys.modules if m.startswith("pyspark")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, "pyspark", None)
        monkeypatch.delitem(sys.modules, "vip_workflow.rules.tiers._spark", raising=False)
        spark = importlib.import_module("vip_workflow.rules.tiers._spark")
        assert not spark.LOWERING.accepts([{"revenue": 1.0}])
        with pytest.raises(MissingExtraError, match=r"vip_workflow\[spark\]"):
            spark.F.col("revenue")

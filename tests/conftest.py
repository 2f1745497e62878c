"""Suite-wide settings.

Under ``CI=true`` every Hypothesis test draws the same examples on every run (``derandomize``):
a green build must not turn red by the draw, nor a red one green. Locally the draws stay random
and keep exploring; a failure found there prints its example to turn into a fixed test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
    settings.load_profile("ci")


def _unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the Spark tests need {why} (CI must run them)")
    pytest.skip(f"Spark tests need {why}")


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local Spark session for the whole run, shared by every Spark test: two cores,
    few shuffle partitions, no UI. Under CI=true a missing pyspark or Java fails."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        _unavailable("pyspark (pip install 'vip_workflow[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _unavailable("Java 17 or later")
    session = (SparkSession.builder.master("local[2]").appName("vip_workflow tests")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.default.parallelism", "2")
               .config("spark.driver.memory", "1g")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()

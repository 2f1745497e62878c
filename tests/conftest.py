"""Suite-wide settings and fixtures.

Under ``CI=true`` every Hypothesis test draws the same examples on every run (``derandomize``):
a green build must not turn red by the draw, nor a red one green. Locally the draws stay random
and keep exploring; a failure found there prints its example to turn into a fixed test.


One local Spark session serves every Spark test (a JVM takes one session's static settings):
two cores, few shuffle partitions, no UI, and Spark's built-in Hive metastore in a temporary
folder (the warehouse cycle writes Hive tables), and the JVM told to compile big methods.
``VW_SPARK_CONF="key=value key=value"`` adds static settings for an experiment.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
    settings.load_profile("ci")


def _unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the Spark tests need {why} (CI must run them)")
    pytest.skip(f"Spark tests need {why}")


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The suite's Spark session (local[2], Hive metastore and warehouse in a temp dir)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        _unavailable("pyspark (pip install 'vip_workflow[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _unavailable("Java 17 or later")
    home = tmp_path_factory.mktemp("spark")
    session = (SparkSession.builder.master("local[2]").appName("vip_workflow tests")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.default.parallelism", "2")
               .config("spark.driver.memory", "1g")
               .config("spark.sql.warehouse.dir", str(home / "warehouse"))
               .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                       f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true")
               # the JVM compiles a method above 8 000 bytes of bytecode only when asked:
               # Spark's code for a wide rule plan is bigger (docs/scale.md)
               .config("spark.driver.extraJavaOptions",
                       f"-Dderby.system.home={home} -XX:-DontCompileHugeMethods")
               .enableHiveSupport())
    for item in os.environ.get("VW_SPARK_CONF", "").split():
        key, _, value = item.partition("=")
        session = session.config(key, value)
    session = session.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()

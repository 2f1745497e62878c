"""Suite-wide settings.

Under ``CI=true`` every Hypothesis test draws the same examples on every run (``derandomize``):
a green build must not turn red by the draw, nor a red one green. Locally the draws stay random
and keep exploring; a failure found there prints its example to turn into a fixed test.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
    settings.load_profile("ci")

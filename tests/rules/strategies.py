"""The rule-file and portfolio strategies live in ``vip_workflow.testing.tier_strategies`` (the
back-end agreement suite uses them too)."""

from vip_workflow.testing.tier_strategies import *  # noqa: F403
from vip_workflow.testing.tier_strategies import (  # noqa: F401  (names used by tests)
    ALL_TIERS,
    BOOL_FIELDS,
    CATEGORIES,
    HUGE_INTEGERS,
    MONTHS_FIELD,
    NUMBER_FIELDS,
    TEXT_FIELDS,
    messy_records,
    portfolios,
    rule_files,
)

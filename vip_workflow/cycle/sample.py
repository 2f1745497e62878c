"""Moved to ``vip_workflow.samples.monthly``; this alias is kept for one release."""

import warnings

from vip_workflow.samples.monthly import *  # noqa: F403
from vip_workflow.samples.monthly import __all__ as __all__

warnings.warn("vip_workflow.cycle.sample moved to vip_workflow.samples",
              DeprecationWarning, stacklevel=2)

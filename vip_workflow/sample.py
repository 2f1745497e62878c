"""Moved to ``vip_workflow.samples.portfolio``; this alias is kept for one release."""

import warnings

from vip_workflow.samples.portfolio import *  # noqa: F403
from vip_workflow.samples.portfolio import __all__ as __all__

warnings.warn("vip_workflow.sample moved to vip_workflow.samples",
              DeprecationWarning, stacklevel=2)

"""Moved to ``vip_workflow.samples.history``; this alias is kept for one release."""

import warnings

from vip_workflow.samples.history import *  # noqa: F403
from vip_workflow.samples.history import __all__ as __all__

warnings.warn("vip_workflow.sample_history moved to vip_workflow.samples",
              DeprecationWarning, stacklevel=2)

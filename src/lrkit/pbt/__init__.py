"""Population-based training of the LR on the sweep's population driver.

Importing this package does not import torch; :func:`pbt` does when it is called.
"""

from __future__ import annotations

from lrkit.pbt._api import pbt
from lrkit.pbt._result import PBTResult

__all__ = ["PBTResult", "pbt"]

from lrkit._callable import callable_module

callable_module(__name__, pbt)

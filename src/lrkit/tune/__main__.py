"""``python -m lrkit.tune CONFIG_JSON``: one tuning worker (see :mod:`lrkit.tune._worker`)."""

from __future__ import annotations

import sys

from lrkit.tune._worker import main

if __name__ == "__main__":
    sys.exit(main())

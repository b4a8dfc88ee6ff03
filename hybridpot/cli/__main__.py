"""``python -m hybridpot.cli``: the same as the ``hybridpot`` command."""

import sys

from hybridpot.cli import main

sys.exit(main())

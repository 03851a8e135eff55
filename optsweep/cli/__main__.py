"""``python -m optsweep.cli``: the same as the ``optsweep`` command."""

import sys

from optsweep.cli import main

sys.exit(main())

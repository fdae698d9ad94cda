"""``python -m qiao`` runs the ``qiao`` command."""

import sys

from qiao.cli import main

sys.exit(main())

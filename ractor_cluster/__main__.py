"""``python -m ractor_cluster``: the ``ractor-cluster`` command."""

import sys

from ._cli import main

sys.exit(main())

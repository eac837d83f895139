"""`python -m vecflow` is the `vecflow` command."""

import sys

from vecflow.cli import main

sys.exit(main())

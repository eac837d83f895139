"""`python -m vecflow_client.cli` is the `vecflow` command."""

import sys

from vecflow_client.cli import main

sys.exit(main())

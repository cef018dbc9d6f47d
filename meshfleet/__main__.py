"""`python -m meshfleet`: the same as the `meshfleet` command."""

import sys

from meshfleet.cli.main import main

sys.exit(main())

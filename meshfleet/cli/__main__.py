"""`python -m meshfleet.cli`."""

import sys

from meshfleet.cli.main import main

sys.exit(main())

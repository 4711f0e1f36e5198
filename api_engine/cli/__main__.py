"""`python -m api_engine.cli`: the same entry point as the `api-engine` command (tests and benches spawn it)."""

import sys

from api_engine.cli import main

sys.exit(main())

"""``python -m playground.cli``."""
import sys

from playground.cli.commands import main

sys.exit(main())

import sys

from synthdistill.cli import main

sys.exit(main())

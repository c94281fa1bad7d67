import sys

from data_access.ops.cli import main

sys.exit(main())

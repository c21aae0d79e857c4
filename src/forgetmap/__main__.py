import sys

from forgetmap.cli.main import main

sys.exit(main())

import sys

from sam2.batch.cli import main

sys.exit(main())

"""``python -m course_lib.data prefetch|verify|where``: see :mod:`course_lib.data_files`."""

import sys

from course_lib.data_files import main

sys.exit(main())

"""``python -m course_lib.distributed``: train the MNIST CNN data-parallel (``--help``)."""

from course_lib.distributed.cli import main

raise SystemExit(main())

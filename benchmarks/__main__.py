"""`python -m benchmarks`: the whole suite, written to benchmarks/RESULTS.md (see benchmarks.suite)."""

import sys

from benchmarks.suite import main

sys.exit(main(sys.argv[1:]))

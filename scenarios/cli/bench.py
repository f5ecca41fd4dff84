"""`peerwell bench`: a pointer to the performance suite, which lives in the source checkout.

The suite (``benchmarks/``) is not part of the installed package, so a wheel has none: it runs
from a clone as ``make bench`` or ``python -m benchmarks``.
"""

from __future__ import annotations

from peerwell.scenarios.cli.core import fail

WHERE = (
    "the performance suite lives in the source checkout's benchmarks/, not in the installed "
    "package: run `make bench` (or `python -m benchmarks`) there"
)


def bench_main(argv: list[str]) -> int:
    """Say where the suite is: exit 0 for ``--help``, else 2 with one ``peerwell: error:`` line."""
    if any(a in ("-h", "--help") for a in argv):
        print(f"usage: peerwell bench\n\n{WHERE[0].upper()}{WHERE[1:]}.")
        return 0
    fail(WHERE)


COMMANDS = {
    "bench": ("performance suite: run `make bench` in the source checkout", bench_main),
}

"""Console entry point of `peerwell` (see ``peerwell.scenarios.cli``)."""

import sys


def main() -> None:
    from peerwell.scenarios.cli import main as _main

    sys.exit(_main())

"""Console entry point of `peerwell` (see ``peerwell.scenarios.cli.core``)."""

import sys


def main() -> None:
    from peerwell.scenarios.cli.core import main as _main

    sys.exit(_main())

"""`peerwell params`: every parameter with its meaning, unit, default, range, box and source.

peerwell params                      # Markdown tables, one per group
peerwell params --format csv         # or json
peerwell params --group care --group offline
peerwell params --write docs/ODD.md  # regenerate the ODD's generated tables in place
peerwell params --check docs/ODD.md  # exit 1 if they are stale
"""

from __future__ import annotations

import sys

from peerwell.scenarios.cli.core import fail
from peerwell.scenarios.evidence.paramdoc import RENDERERS, group_names, stale_blocks, write_doc

USAGE = """usage: peerwell params [--format markdown|csv|json] [--group NAME ...]
       peerwell params --write|--check ODD.md

List every model parameter: the name to type on the command line (e.g. population.size=3000),
its meaning, unit, default, allowed range, the box of the conceptual model it belongs to, and
its empirical source (or "assumption").

options:
  --format FORMAT   markdown (default), csv or json
  --group NAME      only this group; repeat it or give a comma-separated list
  --write PATH      regenerate the parameter tables in the ODD at PATH (docs/ODD.md)
  --check PATH      exit 1 if the ODD's generated tables differ from the code
  -h, --help        show this help

groups: {groups}
"""


def parse_args(args: list[str]) -> tuple[str, list[str] | None] | None:
    """``(format, groups)`` from the argument list; None when help was asked for."""
    fmt = "markdown"
    groups: list[str] = []
    known = group_names()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-h", "--help"):
            return None
        name, eq, inline = arg.partition("=")
        if name in ("--format", "--group"):
            if eq:
                value = inline
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                fail(f"{name} needs a value\n\n{USAGE.format(groups=', '.join(known))}")
            if name == "--format":
                if value not in RENDERERS:
                    fail(f"unknown format {value!r}; choose one of: {', '.join(RENDERERS)}")
                fmt = value
            else:
                for g in (v.strip() for v in value.split(",")):
                    if g not in known:
                        fail(f"unknown parameter group {g!r}; known groups: {', '.join(known)}")
                    groups.append(g)
        else:
            fail(
                f"unknown option {arg!r} for `peerwell params`\n\n"
                + USAGE.format(groups=", ".join(known))
            )
        i += 1
    return fmt, (groups or None)


def document_command(mode: str, args: list[str]) -> int:
    """``--write PATH`` / ``--check PATH``: keep the ODD's generated tables equal to the code."""
    if len(args) != 1:
        fail(f"{mode} takes one path (the ODD, e.g. docs/ODD.md) and nothing else")
    (path,) = args
    if mode == "--check":
        stale = stale_blocks(path)
        if stale:
            print(
                f"{path}: generated block(s) {', '.join(stale)} are out of date; run "
                f"peerwell params --write {path}",
                file=sys.stderr,
            )
            return 1
        print(f"{path}: generated blocks are up to date")
        return 0
    print(f"{path}: {'updated' if write_doc(path) else 'already up to date'}")
    return 0


def params_command(args: list[str]) -> int:
    """Print the parameter tables (Markdown, CSV or JSON), or write/check them in the ODD."""
    args = list(args)
    if args and args[0].partition("=")[0] in ("--write", "--check"):
        mode, eq, inline = args[0].partition("=")
        return document_command(mode, ([inline] if eq else []) + args[1:])
    parsed = parse_args(args)
    if parsed is None:
        print(USAGE.format(groups=", ".join(group_names())))
        return 0
    fmt, groups = parsed
    sys.stdout.write(RENDERERS[fmt](groups))
    return 0


COMMANDS = {
    "params": (
        "list every parameter with meaning, unit, default, range and source",
        params_command,
    ),
}

"""Markdown tables: the one writer behind every generated report and documentation page."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, escape: bool = False
) -> str:
    """A GitHub-flavoured Markdown table, each line ending in a newline.

    Parameters
    ----------
    header : sequence of str
        The column names.
    rows : iterable of sequences
        The cells of each row, written with ``str``.
    escape : bool
        Write a ``|`` inside a cell as ``\\|`` (for cells whose text is not escaped already).

    Returns
    -------
    str
        The header line, the separator line and one line per row.
    """

    def cell(c: object) -> str:
        return str(c).replace("|", "\\|") if escape else str(c)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"

"""`peerwell collect`: gather a sweep's result store into one tidy table.

``SWEEP_DIR/runs/*.parquet`` is read as one ``pyarrow.dataset``; the result has one row per run
and step with ``run_id``, ``step``, ``scenario``, ``seed``, the swept parameters (read from each
run's own recorded config, so the values are the ones the run used) and the outcome columns.
A run file that is truncated or corrupt, or that is not the run its name says (the run_id
recorded in it, or the run_id of its rows, is another: a file copied or swapped from another
run), is reported by name with what is wrong and left out, never used; rerunning the sweep redoes
it. Collecting does not take the folder's lock (it only adds ``collected.*``), and its clean-up
of temp files leaves every file a live writer owns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from peerwell.scenarios.experiments.store import (
    atomic_write_bytes,
    atomic_write_parquet,
    clean_store,
    read_metadata,
    run_file_problem,
    runs_dir,
)
from peerwell.simulation.errors import PeerwellError

ID_COLUMNS = ["run_id", "step", "scenario", "seed"]


class CollectError(PeerwellError):
    """The folder is not a sweep directory, or holds no readable run."""


@dataclass
class Collected:
    """A collected sweep: the table, its swept columns, and the files left out (name, reason)."""

    table: pd.DataFrame
    swept: list[str]
    runs: int
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _plan(sweep_dir: Path) -> dict:
    try:
        return json.loads((sweep_dir / "sweep.json").read_text())
    except (OSError, ValueError):
        return {}


def _describe(design: dict) -> str:
    what = ", ".join(design.get("swept") or []) or "seeds only"
    fixed = " ".join(design.get("fixed") or [])
    sampled = design.get("design")
    kind = f"{sampled['kind']} design of " if sampled else ""
    return f"a {kind}sweep of {what}" + (f" with {fixed}" if fixed else "")


def _refuse_mixed(sweep_dir: Path, designs: list[dict]) -> None:
    listed = "; ".join(f"({i}) {_describe(d)}" for i, d in enumerate(designs, 1))
    raise CollectError(
        f"{sweep_dir} holds the runs of {len(designs)} sweeps of different designs: {listed}. "
        "One table of them would have holes where one sweep has no runs. Give each sweep its "
        "own hydra.sweep.dir=..., or collect them together anyway with mixed=true"
    )


def _read_runs(files: list[Path], skipped: list[tuple[str, str]]) -> pa.Table:
    schemas = [pq.read_schema(f).remove_metadata() for f in files]
    try:
        schema = pa.unify_schemas(schemas)
        fmt = ds.ParquetFileFormat(
            default_fragment_scan_options=ds.ParquetFragmentScanOptions(
                page_checksum_verification=True
            )
        )
        return ds.dataset([str(f) for f in files], schema=schema, format=fmt).to_table()
    except (pa.ArrowInvalid, OSError) as exc:
        # A file whose footer reads but whose data does not: find it, keep the others.
        tables = []
        for f in files:
            try:
                table = pq.read_table(f, page_checksum_verification=True)
                tables.append(table.replace_schema_metadata(None))
            except (pa.ArrowInvalid, OSError) as e:
                skipped.append((f.name, f"unreadable data: {e}"))
        if not tables:
            raise CollectError(f"no run file could be read ({exc})") from None
        return pa.concat_tables(tables, promote_options="default")


def collect(sweep_dir: str | Path, *, mixed: bool = False) -> Collected:
    """Read a sweep's store into one table (see the module doc).

    Parameters
    ----------
    sweep_dir : path
        The sweep directory (``hydra.sweep.dir``), holding ``runs/``.
    mixed : bool
        Merge the runs even when sweeps of different designs were run into the folder
        (``sweep.json``'s ``designs``); by default that is refused.

    Returns
    -------
    Collected

    Raises
    ------
    CollectError
        No ``runs/`` folder, no readable run in it, or runs of different designs (unless
        ``mixed``).
    """
    sweep_dir = Path(sweep_dir)
    folder = runs_dir(sweep_dir)
    if not folder.is_dir():
        raise CollectError(
            f"{sweep_dir} is not a sweep directory: it has no runs/ folder "
            "(a sweep writes one into the hydra.sweep.dir=... it was given)"
        )
    plan = _plan(sweep_dir)
    designs = plan.get("designs") or []
    if len(designs) > 1 and not mixed:
        _refuse_mixed(sweep_dir, designs)
    clean_store(sweep_dir)
    skipped: list[tuple[str, str]] = []
    good: list[Path] = []
    configs: dict[str, dict] = {}
    for f in sorted(folder.glob("*.parquet")):
        if f.name.startswith("."):
            continue
        try:
            meta = read_metadata(f)  # reads the footer: a truncated file fails here
        except (pa.ArrowInvalid, OSError, ValueError) as exc:
            skipped.append((f.name, f"not a whole Parquet file ({exc})"))
            continue
        rid = f.stem
        problem = run_file_problem(f, rid)
        if problem is not None:
            skipped.append(
                (f.name, f"{problem}; left out (rerunning the sweep or comparison runs it again)")
            )
            continue
        flat = _flatten(meta.get("config", {}))
        flat.update((meta.get("sweep") or {}).get("values") or {})
        configs[rid] = flat
        good.append(f)
    if not good:
        raise CollectError(f"no readable run file in {folder}")
    df = _read_runs(good, skipped).to_pandas()
    bad = {name for name, _ in skipped}
    df = df[~df["run_id"].isin({Path(n).stem for n in bad})]

    params = pd.DataFrame.from_dict(configs, orient="index")
    params.index.name = "run_id"
    params = params[params.index.isin(df["run_id"].unique())]
    skip = {"seed", "scenario"} | {c for c in params.columns if c.startswith("scenario.")}
    varying = [
        c
        for c in params.columns
        if c not in skip and params[c].astype(str).nunique(dropna=False) > 1
    ]
    # The last sweep's keys in the order given (the heatmap's x, y), then any earlier design's.
    every_swept = plan.get("swept", []) + [c for d in designs for c in d.get("swept", [])]
    planned = [c for c in dict.fromkeys(every_swept) if c in params.columns and c not in skip]
    swept = list(dict.fromkeys(planned + varying))
    extra = params[swept].copy()
    for c in swept:  # lists (e.g. platforms) become text so the table stays flat
        if extra[c].map(lambda v: isinstance(v, (list, dict))).any():
            extra[c] = extra[c].astype(str)
    df = df.merge(extra, left_on="run_id", right_index=True, how="left")
    outcomes = [c for c in df.columns if c not in ID_COLUMNS and c not in swept]
    df = df[[c for c in ID_COLUMNS if c in df.columns] + swept + outcomes]
    df = df.sort_values(["run_id", "step"], kind="stable").reset_index(drop=True)
    if df.duplicated(["run_id", "step"]).any():
        raise CollectError("the store holds duplicate (run_id, step) rows; it is damaged")
    return Collected(df, swept, int(df["run_id"].nunique()), skipped)


def write_collected(result: Collected, sweep_dir: str | Path) -> tuple[Path, Path]:
    """Write ``collected.parquet`` and ``collected.csv`` atomically into ``sweep_dir``."""
    sweep_dir = Path(sweep_dir)
    pq_path, csv_path = sweep_dir / "collected.parquet", sweep_dir / "collected.csv"
    atomic_write_parquet(
        pq_path,
        result.table,
        {"swept": result.swept, "runs": result.runs, "skipped": result.skipped},
    )
    atomic_write_bytes(csv_path, result.table.to_csv(index=False).encode())
    return pq_path, csv_path

"""The result store: one Parquet file per run, named by run_id, written atomically.

A run is identified by ``run_id = hash(canonical scientific config + seed)``: not paths, not
launcher or output settings. Files are written to a dot-named temporary file in the same folder,
fsynced, then renamed with ``os.replace``, so readers never see a partial file and a killed
sweep or comparison resumes by skipping finished run_ids.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import platform
import subprocess
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import peerwell
from peerwell.simulation.params import ModelParams


def canonical_config(params: ModelParams) -> dict:
    """The scientific config as plain data, keys sorted (what the run_id hashes)."""
    return json.loads(json.dumps(dataclasses.asdict(params), sort_keys=True, default=str))


@functools.cache
def model_fingerprint() -> str:
    """A hash of the model's source code (``simulation/*.py``).

    Part of the run_id: a stored run made by other model code is a different run, so a store is
    never silently reused across a change of the kernels (paths and launchers stay out of it).
    """
    import peerwell.simulation as sim

    h = hashlib.sha256()
    for path in sorted(Path(sim.__file__).parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def run_id(params: ModelParams) -> str:
    """A 16-hex-digit id of the scientific config, the seed and the model code."""
    blob = json.dumps(canonical_config(params), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((model_fingerprint() + blob).encode()).hexdigest()[:16]


def git_revision() -> str | None:
    """The source tree's git revision, when peerwell runs from a checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def provenance() -> dict:
    """Versions and machine facts recorded with every result."""
    import mesa
    import numba
    import numpy

    return {
        "peerwell_version": peerwell.__version__,
        "model_fingerprint": model_fingerprint(),
        "git_revision": git_revision(),
        "python": platform.python_version(),
        "mesa": mesa.__version__,
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.get_num_threads(),
        "machine": platform.machine(),
    }


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


def atomic_write_json(path: Path, obj: dict) -> None:
    atomic_write_bytes(
        path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode()
    )


def atomic_write_parquet(path: Path, df: pd.DataFrame, metadata: dict | None = None) -> None:
    """Write a DataFrame as Parquet atomically, with ``metadata`` (JSON) in the file's schema."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata:
        meta = dict(table.schema.metadata or {})
        meta[b"peerwell"] = json.dumps(metadata, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    # Page checksums: a bit flipped on disk (or in a copy) makes the file unreadable rather than
    # silently wrong, for readers that verify them (``read_verified``, collect, compare).
    pq.write_table(table, sink, write_page_checksum=True)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def read_verified(path: Path) -> pd.DataFrame:
    """Read a Parquet file, verifying its page checksums (files written without them read too)."""
    return pd.read_parquet(path, page_checksum_verification=True)


def read_metadata(path: Path) -> dict:
    """The peerwell metadata stored in a Parquet file's schema."""
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"peerwell")
    return json.loads(raw) if raw else {}

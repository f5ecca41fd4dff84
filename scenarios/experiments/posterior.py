"""A posterior sample of parameters (``posterior.parquet`` of ``peerwell calibrate method=abc``).

The file holds one row per accepted parameter set: a float column per parameter, named as it is
typed on the command line (``activation.learning_gain``), and ``weight`` (the particle's
importance weight, non-negative, summing to 1). Commands that carry parameter uncertainty
(``peerwell compare posterior=...``, ``peerwell validate evidence posterior=...``) read it with
:func:`load_posterior` and draw parameter sets from it with :func:`draw`: a weighted resample
with a seed of its own, so the same seed gives the same draws on any machine.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import ModelParams, iter_fields

WEIGHT = "weight"
# Draws are resampled with their own stream, apart from the runs' seeds (SeedSequence spawn key).
_DRAW_STREAM = 0x505354  # "PST"


def posterior_file(path: str | Path) -> Path:
    """The file ``posterior=path`` names: ``path`` itself, or a folder's ``posterior.parquet``."""
    p = Path(path).expanduser()
    return p / "posterior.parquet" if p.is_dir() else p


def sha256(path: str | Path) -> str:
    """The SHA-256 of the posterior file ``path`` names (what a result records it by)."""
    return hashlib.sha256(posterior_file(path).read_bytes()).hexdigest()


def load_posterior(path: str | Path) -> pd.DataFrame:
    """Read and check a posterior file; returns it with ``weight`` normalised to sum to 1.

    Raises
    ------
    ConfigError
        The file is missing or not Parquet, has no ``weight`` column or no parameter column,
        names a column that is not a model parameter, or has a non-finite or negative value.
    """
    p = posterior_file(path)
    if not p.is_file():
        raise ConfigError(
            f"posterior={path}: no such file (give the posterior.parquet written by "
            "`peerwell calibrate method=abc output_dir=DIR`, or DIR)"
        )
    try:
        frame = pd.read_parquet(p)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise ConfigError(f"posterior={path}: not a Parquet file ({exc})") from None
    if WEIGHT not in frame.columns:
        raise ConfigError(f"posterior={path}: no `weight` column (columns: {list(frame.columns)})")
    names = [c for c in frame.columns if c != WEIGHT]
    if not names or len(frame) == 0:
        raise ConfigError(f"posterior={path}: needs at least one parameter column and one row")
    known = {name for name, _, _ in iter_fields(ModelParams())}
    unknown = [c for c in names if c not in known]
    if unknown:
        raise ConfigError(
            f"posterior={path}: {', '.join(map(str, unknown))} is not a model parameter "
            "(`peerwell params` lists them)"
        )
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.isfinite(values).all():
        raise ConfigError(f"posterior={path}: a value is missing or not finite")
    w = frame[WEIGHT].to_numpy(dtype=np.float64)
    if (w < 0).any() or w.sum() <= 0:
        raise ConfigError(f"posterior={path}: weights must be non-negative with a positive sum")
    frame = frame.astype(np.float64)
    frame[WEIGHT] = w / w.sum()
    return frame.reset_index(drop=True)


def parameters(posterior: pd.DataFrame) -> list[str]:
    """The parameter columns of a posterior, in file order."""
    return [c for c in posterior.columns if c != WEIGHT]


def draw(posterior: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` parameter sets resampled from the posterior by weight (with replacement).

    Returns the drawn rows (index reset, ``weight`` dropped) plus ``row``: the row of the file each
    draw is. The draws depend on ``seed`` and ``n`` only (NumPy's PCG64 from
    ``SeedSequence([seed, _DRAW_STREAM])``).
    """
    if n < 1:
        raise ConfigError(f"draws={n}: give at least 1")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, _DRAW_STREAM])))
    rows = rng.choice(len(posterior), size=n, replace=True, p=posterior[WEIGHT].to_numpy())
    out = posterior.iloc[rows][parameters(posterior)].reset_index(drop=True)
    out.insert(0, "row", rows)
    return out


def overrides(draw_row: pd.Series) -> list[str]:
    """One draw as ``key=value`` overrides (full precision: the run id sees the exact value)."""
    return [f"{k}={float(v)!r}" for k, v in draw_row.items() if k != "row"]

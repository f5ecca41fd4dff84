"""`peerwell validate evidence posterior=DIR`: the held-out targets under parameter uncertainty.

- the command writes evidence.json with ``posterior`` and, per row, the predictive mean, the 95%
  posterior predictive interval (which holds the mean) and ``covered`` (the published value
  inside that interval), evidence_draws.csv (one value per draw and target) and the coverage
  count in evidence.md and on the console; a rerun reuses the draws without running the model;
- a posterior of one row gives draws that are all that row on the same seeds: identical values,
  an interval of zero width (the draws carry the parameters and nothing else), and a posterior
  whose rows differ in a parameter that moves a target gives that target a wider interval;
- a missing posterior, draws=0 and draws= without posterior= are refused in one line, exit 2.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from util import one_numba_thread  # noqa: F401  (autouse: one Numba thread here)

from peerwell.scenarios.cli.core import main
from peerwell.scenarios.evidence import evidence as E
from peerwell.scenarios.evidence import targets as T

SMALL = ["population.size=300", "replicates=1", "draws=3", "n_jobs=1"]
GAIN = "activation.learning_gain"


def _posterior(path, gains, leave=(0.004, 0.006)):
    rows = {GAIN: list(gains), "entry.leave_rate": list(leave)[: len(gains)],
            "weight": [1.0] * len(gains)}  # fmt: skip
    pd.DataFrame(rows).to_parquet(path)
    return path


@pytest.fixture(scope="module")
def two_rows(tmp_path_factory):
    """The command on a posterior whose two rows differ a lot in activation.learning_gain."""
    tmp = tmp_path_factory.mktemp("post")
    _posterior(tmp / "posterior.parquet", (0.0, 0.004))
    out = tmp / "out"
    code = main(["validate", "evidence", *SMALL, f"posterior={tmp}", f"output_dir={out}"])
    return tmp, out, code


def test_the_report_carries_the_predictive_check(two_rows, capsys):
    tmp, out, code = two_rows
    assert code == 0
    data = json.loads((out / "evidence.json").read_text())
    post = data["posterior"]
    assert post["path"] == str(tmp / "posterior.parquet") and len(post["sha256"]) == 64
    assert post["draws"] == 3 and len(post["rows"]) == 3 and set(post["rows"]) <= {0, 1}
    targets = {t.name: t for t in T.load_targets()}
    held = [r for r in data["rows"] if r["role"] == "held_out"]
    assert len(held) == len(T.load_targets("held_out"))
    for r in held:
        lo, hi = r["predictive_interval"]
        assert lo <= r["predictive_mean"] <= hi, r
        assert r["covered"] is (lo <= targets[r["target"]].value <= hi), r
        assert (r["simulated"], r["simulated_ci"]) == (r["predictive_mean"], [lo, hi])
    k = sum(r["covered"] for r in held)
    assert data["coverage"]["held_out"] == {"covered": k, "run": len(held), "targets": len(held)}
    line = f"Held out: {k} of {len(held)} covered by the 95% posterior predictive interval"
    md = (out / "evidence.md").read_text()
    assert "## Posterior predictive check of the held-out targets" in md and line in md
    draws = pd.read_csv(out / E.DRAWS_FILE)
    assert list(draws.columns) == ["draw", "row", "target", "value"]
    assert sorted(set(draws["draw"])) == [1, 2, 3] and len(draws) == 3 * len(targets)
    assert (draws.groupby("draw")["row"].first().tolist()) == post["rows"]
    # a rerun with the same posterior, draws and seed reuses every draw: nothing runs
    capsys.readouterr()

    def no_run(*a, **k):
        raise AssertionError("a draw already in evidence_draws.csv was run again")

    mp = pytest.MonkeyPatch()
    mp.setattr(E, "run_evidence", no_run)
    try:
        assert main(["validate", "evidence", *SMALL, f"posterior={tmp}", f"output_dir={out}"]) == 0
    finally:
        mp.undo()
    shown = capsys.readouterr().out
    assert "draw 3/3: row" in shown and "reused" in shown and line in shown
    again = json.loads((out / "evidence.json").read_text())
    assert again["rows"] == data["rows"]


def test_one_row_gives_identical_draws_and_a_varying_parameter_widens(two_rows, tmp_path):
    _, out, _ = two_rows
    one = _posterior(tmp_path / "one.parquet", (0.002,), (0.005,))
    res = E.run_posterior(["population.size=300"], one, draws=3, replicates=1, seed=1,
                          n_jobs=1, notify=lambda _: None)  # fmt: skip
    assert res["posterior"]["rows"] == [0, 0, 0]
    for r in res["rows"]:
        values = {d["values"][r["target"]] for d in res["draws"]}
        if r["predictive_mean"] is None:
            continue
        assert len(values) == 1, (r["target"], values)  # same parameters, same seeds
        lo, hi = r["predictive_interval"]
        assert lo == hi and r["predictive_mean"] == pytest.approx(lo, rel=1e-12), r
    # learning_gain 0 vs 0.004 moves the recovery effect (0.12 vs 0.28 at this size)
    wide = json.loads((out / "evidence.json").read_text())
    by = {r["target"]: r for r in wide["rows"]}
    assert len(set(wide["posterior"]["rows"])) == 2  # both rows drawn (seed 1)
    lo, hi = by["lloyd_evans_recovery"]["predictive_interval"]
    s_lo, s_hi = next(r for r in res["rows"] if r["target"] == "lloyd_evans_recovery")[
        "predictive_interval"
    ]
    assert hi - lo > 0.05 > s_hi - s_lo == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["posterior={missing}"], "posterior={missing}: no such file"),
        (["posterior={good}", "draws=0"], "draws=0: give at least 1"),
        (["draws=3"], "draws=3: draws are taken from a posterior"),
    ],
)
def test_bad_input_is_refused_in_one_line_before_anything_runs(
    tmp_path, capsys, monkeypatch, args, message
):
    def no_run(*a, **k):
        raise AssertionError("ran")

    monkeypatch.setattr(E, "run_evidence", no_run)
    good = _posterior(tmp_path / "p.parquet", (0.0,), (0.005,))
    paths = {"missing": tmp_path / "nope" / "posterior.parquet", "good": good}
    args = [a.format(**paths) for a in args]
    with pytest.raises(SystemExit) as exc:
        main(["validate", "evidence", *args, f"output_dir={tmp_path / 'out'}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message.format(**paths) in err, err
    assert not (tmp_path / "out" / "evidence.json").exists()


def test_help_documents_posterior_and_draws(capsys):
    for args in (["validate", "--help"], ["validate", "evidence", "--help"]):
        assert main(args) == 0
        out = capsys.readouterr().out
        assert "posterior=DIR" in out and "draws=20" in out
        assert max(map(len, out.splitlines())) <= 80, out

"""The targets file with roles and `peerwell validate evidence` (issue 20, items 1 and 3).

- ``conf/evidence/targets.yaml`` loads, and a wrong field is refused with a message naming the
  target, the field and what would be right;
- calibration reads only calibration targets: the anchors calibrate reports and fits are exactly
  the file's calibration targets, a held-out name never reaches the fit's residuals (the names the
  objective uses are inspected), and a target whose role is changed to held_out drops out;
- the calibration targets in the file carry the same figures as the anchors built from FINDINGS;
- ``peerwell validate evidence`` at a small scale writes evidence.json with the contract's keys.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from util import one_numba_thread  # noqa: F401  (autouse: one Numba thread here)

from peerwell.scenarios.evidence import anchors as A
from peerwell.scenarios.evidence import calibrate as C
from peerwell.scenarios.evidence import evidence as E
from peerwell.scenarios.evidence import targets as T
from peerwell.simulation.errors import ConfigError

ROW_KEYS = {"target", "role", "source", "published", "published_ci", "simulated",
            "simulated_ci", "within"}  # fmt: skip


def _raw():
    return yaml.safe_load(T.default_path().read_text())


def _write(tmp_path: Path, raw: dict) -> Path:
    p = tmp_path / "targets.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


# ---------------------------------------------------------------------------------------------
# The file and its loader


def test_the_file_loads_with_both_roles_and_sources():
    targets = T.load_targets()
    roles = {t.role for t in targets}
    assert roles == {"calibration", "held_out"}
    held = T.load_targets("held_out")
    assert len(held) >= 6
    assert all(t.source and t.population and t.setting for t in targets)
    assert {t.kind for t in held} >= {"effect", "trial"}
    # every held-out target has a published value and a two-sided interval
    assert all(t.value is not None and t.lo is not None and t.hi is not None for t in held)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "role",
            "input_check",
            "role: 'input_check' is not a role; give one of calibration, held_out",
        ),
        ("kind", "levels", "kind: 'levels' is not a kind; give one of level, effect, trial"),
        ("interval", [0.5, 0.1], "interval: [0.5, 0.1]: lo > hi; give [0.1, 0.5]"),
        ("interval", [0.1], "interval: [0.1]: give [lo, hi]"),
        ("value", "high", "value: 'high': give a finite number"),
        ("source", None, "source: missing"),
        ("colour", "red", "colour: unknown field"),
    ],
)
def test_a_bad_field_is_refused_by_name(tmp_path, field, value, message):
    raw = _raw()
    first = raw["targets"][0]
    if value is None:
        del first[field]
    else:
        first[field] = value
    with pytest.raises(ConfigError) as err:
        T.load_targets(path=_write(tmp_path, raw))
    assert f"target '{first['name']}'" in str(err.value)
    assert message in str(err.value)


def test_a_held_out_target_needs_a_value_and_a_two_sided_interval(tmp_path):
    raw = _raw()
    held = next(t for t in raw["targets"] if t["role"] == "held_out")
    held["interval"] = [None, held["interval"][1]]
    with pytest.raises(
        ConfigError, match="held-out target needs a published value and a two-sided"
    ):
        T.load_targets(path=_write(tmp_path, raw))


def test_a_repeated_name_and_an_unknown_role_filter_are_refused(tmp_path):
    raw = _raw()
    raw["targets"].append(dict(raw["targets"][0]))
    with pytest.raises(ConfigError, match="repeats an earlier target"):
        T.load_targets(path=_write(tmp_path, raw))
    with pytest.raises(ConfigError, match="role='heldout': give one of calibration, held_out"):
        T.load_targets("heldout")


def test_the_file_carries_the_anchors_figures():
    """The file is the register: its calibration targets are the anchors, with their numbers."""
    file = {t.name: t for t in T.load_targets("calibration")}
    built = A.anchors()
    assert {a.id for a in built} == set(file)
    for a in built:
        t = file[a.id]
        assert t.measure == a.measure, a.id
        for x, y in ((t.value, a.target), (t.lo, a.lo), (t.hi, a.hi)):
            assert (x is None) == (y is None), a.id
            if x is not None:
                assert x == pytest.approx(y, abs=1e-5), a.id


# ---------------------------------------------------------------------------------------------
# Roles kept apart


def test_no_held_out_target_reaches_the_calibration_objective(monkeypatch):
    """Inspect the names fit()'s objective is built from: only calibration targets."""
    held = {t.name for t in T.load_targets("held_out")}
    calibration = T.calibration_names()
    assert not held & calibration
    anchor_ids = {a.id for a in A.anchors()}
    assert anchor_ids <= calibration and not anchor_ids & held

    seen: list[str] = []
    real = C.fit_residuals

    def spy(anchor_list, reps):
        res, names = real(anchor_list, reps)
        seen.extend(names)
        return res, names

    # every fitted anchor, measured at a fake value: the objective's names are all it would use
    reps = [{a.measure: (a.target if a.target is not None else 0.5) for a in A.anchors()}]
    monkeypatch.setattr(C, "fit_residuals", spy)
    C.fit_residuals(A.anchors(), reps)
    assert seen and set(seen) <= calibration and not set(seen) & held


def test_a_held_out_name_in_the_fit_is_refused():
    held = T.load_targets("held_out")[0]
    fake = A.Anchor(held.name, "x", "x", "baseline.recovery_mean", "x", 0.5, 0.4, 0.6, "x")
    with pytest.raises(ConfigError, match=f"{held.name} \\(held-out\\)"):
        C.fit_residuals([fake], [{"baseline.recovery_mean": 0.5}])


def test_an_anchor_marked_held_out_drops_out_of_calibration(tmp_path, monkeypatch):
    raw = _raw()
    for t in raw["targets"]:
        if t["name"] == "retention_6m":
            t["role"] = "held_out"
    path = _write(tmp_path, raw)
    monkeypatch.setattr(T, "default_path", lambda: path)
    ids = {a.id for a in A.anchors()}
    assert "retention_6m" not in ids and "retention_9m" in ids


def test_an_anchor_missing_from_the_file_is_refused(tmp_path, monkeypatch):
    raw = _raw()
    raw["targets"] = [t for t in raw["targets"] if t["name"] != "online_share"]
    path = _write(tmp_path, raw)
    monkeypatch.setattr(T, "default_path", lambda: path)
    with pytest.raises(ConfigError, match=r"online_share.*not in conf/evidence/targets\.yaml"):
        A.anchors()


# ---------------------------------------------------------------------------------------------
# Interval compatibility


def test_within_is_interval_compatibility_not_a_window():
    # mean outside the published CI, but the intervals are compatible
    assert E.within(0.25, (0.07, 0.43), 0.45, (0.30, 0.60)) is True
    # a precise simulated value far from the published one fails
    assert E.within(0.25, (0.07, 0.43), 0.70, (0.68, 0.72)) is False
    # ratios compare on the log scale
    assert E.within(5.55, (1.09, 28.23), 1.2, (1.0, 1.4), ratio=True) is True
    assert E.within(0.31, (0.11, 0.86), 1.5, (1.4, 1.6), ratio=True) is False
    # a direction holds only when the whole interval is on its side (a positive mean whose
    # interval crosses 0, as gain_care_seeking's once did, says nothing)
    assert E.within(None, (0.0, None), 0.1, (-0.02, 0.22)) is False
    assert E.within(None, (0.0, None), 0.1, (0.02, 0.18)) is True
    assert E.within(None, (None, 0.0), -0.1, (-0.18, -0.02)) is True
    # bounds and spans: overlap of the simulated interval
    assert E.within(None, (None, 0.25), 0.3, (0.28, 0.32)) is False
    assert E.within(None, (0.307, 0.445), 0.3, (0.28, 0.32)) is True
    assert E.within(0.2, (0.1, 0.3), math.nan, None) is None


# ---------------------------------------------------------------------------------------------
# End to end


def test_validate_evidence_writes_the_contract(tmp_path, capsys):
    from peerwell.scenarios.cli.core import main

    out = tmp_path / "e"
    args = ["validate", "evidence", "population.size=600", "replicates=2", "n_jobs=1",
            f"output_dir={out}", f"docs={tmp_path / 'evidence.md'}"]  # fmt: skip
    assert main(args) == 0
    data = json.loads((out / "evidence.json").read_text())
    assert set(data) == {"rows", "seed", "config", "version"}
    rows = data["rows"]
    assert all(set(r) == ROW_KEYS for r in rows)
    names = {t.name for t in T.load_targets()}
    assert {r["target"] for r in rows} == names  # both roles, one row each
    held = [r for r in rows if r["role"] == "held_out"]
    assert len(held) >= 3 and all(r["source"] for r in rows)
    effects = [r for r in held if data["config"]["targets"][r["target"]]["kind"] == "effect"]
    assert effects and all(r["simulated"] is not None and r["within"] in (True, False)
                           for r in effects)  # fmt: skip
    assert all(len(r["published_ci"]) == 2 for r in rows)
    assert "| lloyd_evans_recovery |" in (out / "evidence.md").read_text()
    assert "## The table" in (tmp_path / "evidence.md").read_text()
    assert "held out:" in capsys.readouterr().out


def test_held_out_evidence_catches_what_the_calibration_let_through():
    # The reviewer's case (issue 20): online gains in recovery set to an extreme left every
    # calibration anchor within. The held-out effect of peer support on recovery (Lloyd-Evans
    # 2014, SMD 0.23 [0.09, 0.37]) is within at the defaults and must fail at the extreme.
    targets = [t for t in T.load_targets() if t.name == "lloyd_evans_recovery"]
    small = ["population.size=800", "steps=365"]
    args = dict(replicates=2, seed=1, n_jobs=1, targets=targets, notify=lambda _: None)
    default = E.run_evidence(small, **args)["rows"][0]
    extreme = E.run_evidence(
        [*small, "offline.recovery_wellbeing=5", "offline.recovery_activation=5",
         "offline.recovery_rate=0.05"], **args,
    )["rows"][0]  # fmt: skip
    assert default["within"] is True, default
    assert extreme["within"] is False, extreme
    assert extreme["simulated"] > 2 * default["simulated"]

"""What users see is what runs, and messages a person can act on (issue 24, the command line).

Each test here failed before its fix: a run's default folder was shared by every config of one
scenario and seed (the last run overwrote the others); `compare` starred differences from two
replicates; a network file shorter than the population left thousands of people alone without a
word; `run` reported mistakes in Hydra's format (27 lines of search path, exit 1) while `compare`
used peerwell's; near misses got no "did you mean"; `--steps 100` got Hydra's usage text; `peerwell
--version` did not exist; `run --help` was a 180-line config dump; the compare table was cut to
"acti… │ 50.…" at 80 columns.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sstats
from util import one_numba_thread, peerwell_here  # noqa: F401 (a fixture: one Numba thread here)

from peerwell.scenarios.cli.core import main

SMALL = ("steps=3", "population.size=50")
COMPARE = ("steps=40", "population.size=300", "n_jobs=1", "progress=false", "figures=false")


def error_line(code, text: str) -> str:
    """The command's refusal: exit code 2 and one "peerwell: error:" line, nothing of Hydra's."""
    assert code == 2, text
    assert "Traceback" not in text, text
    for hydra_words in ("HYDRA_FULL_ERROR", "Config search path", "usage: peerwell-"):
        assert hydra_words not in text, text
    lines = [ln for ln in text.splitlines() if "peerwell: error:" in ln]
    assert len(lines) == 1 and text.lstrip().startswith("peerwell: error:"), text
    return lines[0]


def run_ids(folder: Path) -> dict[str, str]:
    """Each run folder under ``folder`` and the run_id its run.json records."""
    return {
        p.name: json.loads((p / "run.json").read_text())["run_id"]
        for p in sorted(folder.iterdir())
        if (p / "run.json").exists()
    }


# ---------------------------------------------------------------------------------------------
# Results never silently overwrite


def test_runs_of_different_configs_never_share_the_default_folder(tmp_path, capsys, monkeypatch):
    # Before: outputs/baseline/seed42 for both; the second run replaced the first's results.
    monkeypatch.chdir(tmp_path)
    for steps in (3, 4):
        code, text = peerwell_here(capsys, "run", f"steps={steps}", "population.size=50")
        assert code in (0, None), text
    found = run_ids(tmp_path / "outputs" / "baseline")
    assert len(found) == 2, found
    assert all(name == rid for name, rid in found.items())  # the folder is the run_id
    steps = {
        json.loads((tmp_path / "outputs" / "baseline" / n / "run.json").read_text())["config"][
            "steps"
        ]
        for n in found
    }
    assert steps == {3, 4}
    # What `--cfg job` shows is what runs: the placeholder, not a folder shared by configs.
    code, text = peerwell_here(capsys, "run", "--cfg", "job")
    assert "output_dir: outputs/<scenario>/<run_id>" in text, text


def test_an_output_dir_is_used_as_given_and_a_replaced_run_is_named(tmp_path, capsys):
    # `make demo` writes into one output_dir every time: the same run again just works; a run
    # of another config replaces it (as before), but not without a word.
    out = tmp_path / "demo"
    for _ in range(2):
        code, text = peerwell_here(capsys, "run", *SMALL, f"output_dir={out}")
        assert code in (0, None) and "note" not in text, text
    first = json.loads((out / "run.json").read_text())["run_id"]
    code, text = peerwell_here(capsys, "run", "steps=4", "population.size=50", f"output_dir={out}")
    assert code in (0, None), text
    second = json.loads((out / "run.json").read_text())["run_id"]
    assert second != first
    assert f"peerwell: note: {out} holds run {first}, of another config" in text, text


# ---------------------------------------------------------------------------------------------
# Comparisons state their power


def test_significance_marks_follow_the_stated_rule():
    # Before: a mark was any 95% bootstrap interval without zero, uncorrected, at any n.
    from peerwell.analysis import stats

    rng = np.random.default_rng(3)
    # b is a: activation +1 (clearly), belonging +-: no change on average
    noise = [0.01, -0.01, 0.02, -0.02, 0.005, -0.004]
    rows = []
    for seed in range(1, 7):
        base = {"activation_mean": 50 + rng.normal(), "belonging_mean": 0.2 + rng.normal(0, 0.01)}
        rows.append({"scenario": "a", "seed": seed, "run_id": f"a{seed}", "step": 9, **base})
        rows.append({
            "scenario": "b", "seed": seed, "run_id": f"b{seed}", "step": 9,
            "activation_mean": base["activation_mean"] + 1 + rng.normal(0, 0.1),
            "belonging_mean": base["belonging_mean"] + noise[seed - 1],
        })  # fmt: skip
    horizon = pd.DataFrame(rows)
    s = stats.summary_table(horizon, ["a", "b"]).set_index(["scenario", "outcome"])
    p = {}
    for o in ("activation_mean", "belonging_mean"):
        d = (
            horizon[horizon.scenario == "b"][o].to_numpy()
            - horizon[horizon.scenario == "a"][o].to_numpy()
        )
        p[o] = sstats.ttest_1samp(d, 0.0).pvalue
        assert s.loc[("b", o), "p_value"] == pytest.approx(p[o])
    low, high = sorted(p, key=p.get)  # Holm over the table's two differences
    assert s.loc[("b", low), "p_holm"] == pytest.approx(min(1.0, 2 * p[low]))
    assert s.loc[("b", high), "p_holm"] == pytest.approx(max(min(1.0, 2 * p[low]), p[high]))
    assert bool(s.loc[("b", "activation_mean"), "significant"])
    assert not bool(s.loc[("b", "belonging_mean"), "significant"])
    assert pd.isna(s.loc[("a", "activation_mean"), "significant"])  # the reference
    # The same data with fewer than MIN_PAIRS pairs: nothing is marked, however small the p.
    few = stats.summary_table(horizon[horizon.seed <= stats.MIN_PAIRS - 1], ["a", "b"])
    assert not few.loc[few.scenario == "b", "significant"].any()
    assert stats.too_few_pairs(few) == stats.MIN_PAIRS - 1


def test_a_comparison_of_two_replicates_marks_nothing_and_says_why(tmp_path, capsys):
    # Before: "physical wb −3.89e-05*": nearly every difference starred, without a warning.
    out = tmp_path / "c"
    code, text = peerwell_here(
        capsys, "compare", "scenarios=[baseline,offline_only]", "replicates=2", *COMPARE,
        f"output_dir={out}",
    )  # fmt: skip
    assert code in (0, None), text
    table = [ln for ln in text.splitlines() if "│" in ln]
    assert table and not any("*" in ln for ln in table), text
    assert "Not tested. Only 2 paired replicates" in text and "at least 5" in text, text
    report = (out / "report.md").read_text()
    assert "Too few replicates to test differences" in report
    assert " *" not in report.split("## Paired differences")[1].split("## Figures")[0]
    summary = pd.read_csv(out / "summary.csv")
    assert not summary["significant"].fillna(False).astype(bool).any()
    manifest = json.loads((out / "comparison.json").read_text())
    assert manifest["marks"]["tested"] is False and manifest["marks"]["min_pairs"] == 5


def test_the_compare_table_fits_80_columns_with_every_number_whole(tmp_path, capsys, monkeypatch):
    # Before: "acti… │ 50.… │ +1.5…", the * cut off; now the table turns to one row per outcome.
    monkeypatch.setenv("COLUMNS", "80")
    code, text = peerwell_here(
        capsys, "compare", "scenarios=[baseline,moderated_community,offline_only]",
        "replicates=5", *COMPARE, f"output_dir={tmp_path / 'c'}",
    )  # fmt: skip
    assert code in (0, None), text
    # The table and its notes (then the line naming the folder, a path kept whole to copy).
    shown = re.split(r"^\d+ runs: ", text, flags=re.M)[0]
    assert max(len(ln) for ln in shown.splitlines()) <= 80, shown
    assert "…" not in shown, shown
    table = [ln for ln in shown.splitlines() if "│" in ln]
    assert any(ln.startswith("│ belonging") for ln in table), shown  # outcomes as rows
    assert any(re.search(r"[+-][\d.e-]+\*", ln) for ln in table), shown  # a whole mark
    assert "Holm" in shown and "below 0.05" in shown, shown
    summary = pd.read_csv(tmp_path / "c" / "summary.csv")
    belonging = summary.set_index(["scenario", "outcome"]).loc[("offline_only", "belonging_mean")]
    assert bool(belonging["significant"]) and belonging["p_holm"] < 0.05


# ---------------------------------------------------------------------------------------------
# Warnings for silent oddities


def test_a_network_file_shorter_than_the_population_is_a_warning_recorded_with_the_run(
    tmp_path, capsys
):
    # Before: 150 of 200 people ran without a tie, silently.
    f = tmp_path / "ring.txt"
    f.write_text("".join(f"{i} {(i + 1) % 50}\n" for i in range(50)))
    out = tmp_path / "o"
    code, text = peerwell_here(
        capsys, "run", "network=edgelist", f"network.path={f}", "population.size=200",
        "steps=2", f"output_dir={out}",
    )  # fmt: skip
    assert code in (0, None), text
    warning = next(ln for ln in text.splitlines() if "peerwell: warning:" in ln)
    for words in ("150 of 200 people are in no tie", "largest node id is 49",
                  "population.size is 200", "population.size=50"):  # fmt: skip
        assert words in warning, warning
    recorded = json.loads((out / "run.json").read_text())["warnings"]
    assert len(recorded) == 1 and "150 of 200 people" in recorded[0]


# ---------------------------------------------------------------------------------------------
# One format and one exit code for every mistake


@pytest.mark.parametrize(
    "args",
    [
        ["run", "scenario=nope"],  # Hydra's MissingConfigException: 27 lines, exit 1
        ["run", "network=nope"],
        ["run", "communities.moderaton=0.5"],  # Hydra's compact error, exit 1
        ["run", "--cfg", "bogus"],  # Hydra's argument parser: its usage text
        ["sweep", "scenario=nope", "seed=1"],
        ["sensitivity", "method=morris", "scenario=nope"],
    ],
)
def test_every_command_refuses_a_mistake_in_one_format_with_exit_code_2(
    tmp_path, capsys, monkeypatch, args
):
    monkeypatch.chdir(tmp_path)
    code, text = peerwell_here(capsys, *args)
    error_line(code, text)
    assert not list(tmp_path.rglob("*.parquet")) and not (tmp_path / "multirun").exists()


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["run", "scenario=moderated_comunity"], "did you mean scenario=moderated_community?"),
        (["compare", "scenarios=[baseline,moderated_comunity]"], "did you mean moderated_community?"),
        (["compare", "scenarios=[baseline]", "replicate=2"], "did you mean replicates?"),
        (["sensitivity", "methd=sobol"], "did you mean method?"),
        (["calibrate", "replicate=2"], "did you mean replicates"),
        (["validate", "model=sir", "replicate=2"], "did you mean replicates?"),
        (["validate", "model=sri"], "did you mean"),
        (["run", "network=sbn"], "did you mean network=sbm?"),
        (["run", "network.kind=sbn"], "did you mean network.kind=sbm?"),
        (["run", "communities.platforms=[forun]"], "did you mean forum?"),
        (["run", "communities.moderaton=0.5"], "did you mean communities.moderation?"),
        (["run", "stpes=5"], "did you mean steps?"),
        (["params", "--format", "jsn"], "did you mean json?"),
        (["compre"], "did you mean compare?"),
    ],
)  # fmt: skip
def test_a_near_miss_gets_a_did_you_mean(tmp_path, capsys, monkeypatch, args, hint):
    monkeypatch.chdir(tmp_path)
    code, text = peerwell_here(capsys, *args)
    line = error_line(code, text)
    assert hint in line, line


def test_compare_lists_its_own_keys_with_the_models(capsys, tmp_path):
    # Before: the known keys of `compare ... replicate=2` were the model's, without replicates.
    code, text = peerwell_here(
        capsys, "compare", "scenarios=[baseline]", "replicate=2", f"output_dir={tmp_path}/c"
    )
    line = error_line(code, text)
    assert "compare's own keys are scenarios, replicates, output_dir, seed" in line, line
    assert "the model's are seed, steps" in line, line


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["run", "--steps", "100"], "write steps=100"),
        (["run", "--steps=100"], "write steps=100"),
        (["run", "--output-dir", "/abs/out"], "write output_dir=/abs/out"),
        (["sweep", "--steps", "3", "seed=1"], "write steps=3"),
        (["compare", "scenarios=[baseline]", "--replicates", "2"], "write replicates=2"),
        (["calibrate", "--replicates", "2"], "write replicates=2"),
        (["compare", "--config-dir", "/tmp", "scenarios=[baseline]"], "not --config-dir"),
    ],
)
def test_an_option_written_as_a_flag_is_told_the_key_value_to_write(
    tmp_path, capsys, monkeypatch, args, hint
):
    # Before: Hydra's usage text ("unrecognized arguments: --steps"), or for compare
    # "LexerNoViableAltException: --config-dir".
    monkeypatch.chdir(tmp_path)
    code, text = peerwell_here(capsys, *args)
    line = error_line(code, text)
    assert hint in line and "Lexer" not in line, line


def test_scenarios_without_brackets_are_told_to_write_a_list(tmp_path, capsys):
    # Before: "tags: Unexpected type annotation: Set[str]".
    code, text = peerwell_here(
        capsys, "compare", "scenarios=baseline,moderated_community", "replicates=2",
        f"output_dir={tmp_path / 'c'}",
    )  # fmt: skip
    line = error_line(code, text)
    assert "scenarios=[baseline,moderated_community]" in line and "Set[str]" not in line, line
    assert not (tmp_path / "c").exists()


# ---------------------------------------------------------------------------------------------
# --version and --help


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_names_the_package_python_and_git_revision(capsys, flag):
    import platform

    import peerwell

    code = main([flag])
    out = capsys.readouterr().out
    assert code == 0
    assert f"peerwell {peerwell.__version__}" in out
    assert f"Python {platform.python_version()}" in out
    assert "git revision" in out


def test_run_help_says_what_it_writes_and_its_defaults_in_one_screen(capsys):
    # Before: Hydra's 180-line config dump, which never said what `run` writes.
    code = main(["run", "--help"])
    out = capsys.readouterr().out
    assert code == 0 and len(out.splitlines()) <= 40, out
    for words in ("trajectories.parquet", "run.json", "trajectories.png",
                  "outputs/<scenario>/<run_id>", "output_dir=PATH", "peerwell run --cfg job",
                  "scenario=baseline", "steps=365", "population.size=3000", "exit code 2"):  # fmt: skip
        assert words in out, words


def test_sweep_help_says_what_it_writes_and_its_defaults_in_one_screen(capsys):
    # Before: Hydra's 190-line config dump, which never said where the runs go.
    code = main(["sweep", "--help"])
    out = capsys.readouterr().out
    assert code == 0 and len(out.splitlines()) <= 40, out
    assert max(len(line) for line in out.splitlines()) <= 80, out
    for words in ("runs/<run_id>.parquet", "sweep.json", "peerwell collect DIR",
                  "multirun/<scenario>/sweep-<hash", "resumes", "seed=42", "batches=0",
                  "morris 10, sobol 64", "exit code 2"):  # fmt: skip
        assert words in out, words


def test_validate_help_fits_a_screen_and_details_one_model_on_request(capsys):
    # Before: 51 lines of 94 columns, every parameter of every model.
    assert main(["validate", "--help"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) <= 40 and max(map(len, out.splitlines())) <= 80, out
    for words in ("validation.json", "validation.png", "r0=2.0", "seed=3", "model=MODEL --help"):
        assert words in out, words
    assert main(["validate", "model=sis", "--help"]) == 0
    out = capsys.readouterr().out
    assert "days averaged after the burn-in" in out and "rumor" not in out, out


def test_compare_and_sensitivity_help_state_defaults_and_budget(capsys):
    # Before: sensitivity's help hid its default samples and what they cost in runs.
    main(["sensitivity", "--help"])
    out = capsys.readouterr().out
    assert "default 10" in out and "default 64" in out, out
    assert "90 runs for morris and 640 for sobol" in out, out
    assert "outputs/sensitivity/METHOD" in out, out
    main(["compare", "--help"])
    out = capsys.readouterr().out
    assert "default outputs/compare" in out and "fewer than 5 replicates" in out, out

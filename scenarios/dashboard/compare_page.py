"""The Compare page: scenarios side by side over replicates, with confidence intervals.

It runs ``scenarios.compare.run_comparison`` (the same code, store layout and numbers as
``peerwell compare``) in a background thread, showing progress by watching the run files appear in
the result store, or it loads a finished store that ``peerwell compare`` wrote. It shows the
trajectories with their 95% bootstrap bands (``analysis.stats.trajectory_bands``) and the table
of ``summary.csv`` (means with CIs, paired differences from the first scenario with CIs).
"""

from __future__ import annotations

import html
import io
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import reacton.ipywidgets as rw
import solara
from matplotlib.figure import Figure

from peerwell.analysis.stats import MAIN, OUTCOME_BY_NAME, trajectory_bands
from peerwell.scenarios.dashboard.controls import SPECS, ControlSpec, parse_value
from peerwell.scenarios.dashboard.limits import check_memory
from peerwell.scenarios.dashboard.live import HYDRA_LOCK, scenario_list, scenario_params
from peerwell.scenarios.dashboard.session import use_session, use_task
from peerwell.simulation.errors import PeerwellError

REPLICATES = ControlSpec(
    name="replicates",
    label="Replicates",
    kind="integer",
    default=5,
    lo=1,
    hi=500,
    step=1,
    unit="runs per scenario",
    help="runs per scenario; replicate r of every scenario shares its seed",
)
ROOT_SEED = ControlSpec(
    name="root_seed",
    label="Root seed",
    kind="integer",
    default=2016,
    lo=0,
    hi=2**63 - 1,
    step=1,
    unit="",
    help="replicate seeds come from SeedSequence(root seed)",
)
# Outcomes drawn as trajectories (the table has every outcome of summary.csv).
PANELS = (
    "activation_mean",
    "care_seeking_share",
    "wellbeing_mental_mean",
    "self_stigma_mean",
    "belonging_mean",
    "misinformation_belief_mean",
)
DEFAULT_FOLDER = "outputs/dashboard-compare"
# Below this many person-days in all, a comparison runs in the server process, not in workers.
IN_PROCESS_WORK = 20_000_000


@dataclass
class CompareView:
    """What the page shows of a finished comparison."""

    scenarios: list[str]
    replicates: int
    people: int
    days: int
    folder: Path
    summary: pd.DataFrame
    bands: pd.DataFrame
    note: str
    png: bytes = b""


def _bands(trajectories: pd.DataFrame) -> pd.DataFrame:
    outcomes = [o for o in PANELS if o in trajectories.columns]
    return trajectory_bands(trajectories, outcomes, n_resamples=1000)


def check_folder(folder: str | Path) -> Path:
    """The folder as an absolute path; refused outside the allowed root when one is set.

    ``peerwell dashboard`` always sets ``PEERWELL_DASHBOARD_ROOT`` (``--root``, by default the
    folder it was started from): what a page asks to read or write must resolve inside it, so no
    page input reaches an arbitrary path on the server (``..``, absolute paths and symlinks that
    lead out are refused). Without the variable (the page's code used as a library) any folder
    is allowed.

    Raises
    ------
    PeerwellError
        The folder is empty, or outside the allowed root.
    """
    if not str(folder).strip():
        raise PeerwellError("give a folder")
    path = Path(folder).expanduser()
    root = os.environ.get("PEERWELL_DASHBOARD_ROOT")
    if root:
        path = (Path(root) / path).resolve()
        if not path.is_relative_to(Path(root).resolve()):
            raise PeerwellError(
                f"folders must be inside {root} (this dashboard's result folder: where it was "
                f"started, or its --root); {str(folder)!r} is not"
            )
    return path.resolve()


def load_store(folder: str | Path) -> CompareView:
    """Read a result store written by ``peerwell compare`` (nothing in it is changed).

    Raises
    ------
    PeerwellError
        The folder is not a finished comparison, or its manifest names files outside it.
    """
    out = check_folder(folder)
    manifest_path, summary_path = out / "comparison.json", out / "summary.csv"
    if not manifest_path.is_file() or not summary_path.is_file():
        raise PeerwellError(
            f"{out} holds no finished comparison (comparison.json and summary.csv are written "
            "by `peerwell compare` at the end)"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
        summary = pd.read_csv(summary_path)
        files = [(out / r["file"]).resolve() for r in manifest["runs"]]
        outside = [f for f in files if not f.is_relative_to(out)]
        if outside:
            raise PeerwellError(
                f"cannot read the comparison in {out}: its comparison.json names a run file "
                f"outside the folder ({outside[0]})"
            )
        frames = [pd.read_parquet(f, page_checksum_verification=True) for f in files]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PeerwellError(f"cannot read the comparison in {out}: {exc}") from None
    trajectories = pd.concat(frames, ignore_index=True)
    return CompareView(
        scenarios=list(manifest["scenarios"]),
        replicates=int(manifest["replicates"]),
        people=int(manifest.get("people") or 0),
        days=int(manifest.get("horizon") or trajectories["step"].max()),
        folder=out.resolve(),
        summary=summary,
        bands=_bands(trajectories),
        note=f"loaded from {out.resolve()} ({len(frames)} runs)",
    )


def planned_files(scenarios, replicates, overrides, folder, root_seed) -> list[Path]:
    """The run files a comparison will have written when it is done (for its progress bar)."""
    # Imported on first use, to keep startup fast: the experiment engine (joblib, the run
    # store) loads when a comparison is asked for, not with every page.
    from peerwell.scenarios.catalogue import load_scenario
    from peerwell.scenarios.experiments.replicates import plan, replicate_seeds

    with HYDRA_LOCK:
        base = {name: load_scenario(name, overrides) for name in scenarios}
    seeds = replicate_seeds(root_seed, replicates)
    return [pr.path for pr in plan(base, seeds, Path(folder).expanduser().resolve() / "runs")]


# ---------------------------------------------------------------------------------------------
# Formatting: the page shows summary.csv's numbers, rounded the same way everywhere


def fmt_value(outcome: str, x: float, diff: bool = False) -> str:
    """A number of summary.csv as the page shows it (shares in %, differences in points)."""
    if x is None or pd.isna(x):
        return "–"
    o = OUTCOME_BY_NAME.get(outcome)
    unit = o.unit if o else "score"
    if unit == "share":
        return f"{100 * x:+.2f} pp" if diff else f"{100 * x:.2f}%"
    if unit == "pam":
        return f"{x:+.2f}" if diff else f"{x:.2f}"
    return f"{x:+.4f}" if diff else f"{x:.4f}"


def fmt_ci(outcome: str, lo: float, hi: float, diff: bool = False) -> str:
    return f"[{fmt_value(outcome, lo, diff)}, {fmt_value(outcome, hi, diff)}]"


def summary_html(view: CompareView) -> str:
    """The summary table: per outcome, each scenario's mean and its paired difference, with CIs."""
    s = view.summary
    ref = view.scenarios[0]
    order = [o for o in MAIN if o in set(s["outcome"])]
    order += [o for o in dict.fromkeys(s["outcome"]) if o not in order]
    rows = []
    for outcome in order:
        part = s[s["outcome"] == outcome]
        label = part["label"].iloc[0] if "label" in part and len(part) else outcome
        rows.append(
            f"<tr class='pw-group'><td colspan='4'><b>{html.escape(str(label))}</b> "
            f"<span class='pw-caption'>({html.escape(outcome)})</span></td></tr>"
        )
        for scenario in view.scenarios:
            r = part[part["scenario"] == scenario]
            if r.empty:
                continue
            r = r.iloc[0]
            mean = f"{fmt_value(outcome, r['mean'])} {fmt_ci(outcome, r['ci_low'], r['ci_high'])}"
            if scenario == ref:
                diff, verdict = "reference", ""
            else:
                diff = (
                    f"{fmt_value(outcome, r['diff'], True)} "
                    f"{fmt_ci(outcome, r['diff_ci_low'], r['diff_ci_high'], True)}"
                )
                verdict = str(r.get("verdict", "") or "")
            rows.append(
                f"<tr data-scenario='{html.escape(scenario)}' data-outcome='{outcome}'>"
                f"<td>{html.escape(scenario)}</td><td class='pw-num'>{mean}</td>"
                f"<td class='pw-num'>{diff}</td><td>{html.escape(verdict)}</td></tr>"
            )
    return (
        "<table class='pw-table pw-summary'><thead><tr><th>Scenario</th>"
        "<th class='pw-num'>Mean at the last day [95% CI]</th>"
        f"<th class='pw-num'>Paired difference from {html.escape(ref)} [95% CI]</th>"
        "<th>For people</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def compare_png(view: CompareView) -> bytes:
    """Mean trajectories over replicates with 95% bootstrap bands, one panel per outcome."""
    colors = [
        "#0072b2",
        "#d55e00",
        "#009e73",
        "#cc79a7",
        "#e69f00",
        "#56b4e9",
        "#f0e442",
        "#000000",
    ]
    outcomes = [o for o in PANELS if o in set(view.bands["outcome"])]
    fig = Figure(figsize=(13, 7.2), dpi=90, layout="constrained")
    axes = fig.subplots(2, 3, squeeze=False).ravel()
    for ax, outcome in zip(axes, outcomes):
        o = OUTCOME_BY_NAME.get(outcome)
        k = 100.0 if o and o.unit == "share" else 1.0
        for i, scenario in enumerate(view.scenarios):
            b = view.bands[
                (view.bands["outcome"] == outcome) & (view.bands["scenario"] == scenario)
            ]
            c = colors[i % len(colors)]
            ax.fill_between(b["step"], k * b["lo"], k * b["hi"], color=c, alpha=0.25, lw=0)
            ax.plot(b["step"], k * b["mean"], color=c, lw=2.2, label=scenario)
        title = o.label if o else outcome
        ax.set_title(title + (" (%)" if k == 100 else ""), fontsize=15, loc="left")
        ax.tick_params(labelsize=12)
        ax.grid(alpha=0.3)
        ax.set_xlabel("day", fontsize=12)
    for ax in axes[len(outcomes) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=min(len(labels), 5),
        fontsize=14,
        frameon=False,
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# The page


@solara.component
def CompareResult(view: CompareView):
    png = solara.use_memo(lambda: view.png or compare_png(view), [id(view)])
    solara.HTML(
        tag="p",
        unsafe_innerHTML=html.escape(
            f"{len(view.scenarios)} scenarios × {view.replicates} replicates, "
            f"{view.people:,} people, {view.days} days — {view.note}. Bands and CIs: 95% "
            "bootstrap over replicates; differences are paired (replicate r of every scenario "
            "shares its seed)."
        ),
        classes=["pw-caption", "pw-compare-note"],
    )
    with solara.Column(classes=["pw-compare-chart"]):
        rw.Image(value=png, format="png", layout={"width": "100%", "max_width": "1400px"})
    with solara.Row(style={"align-items": "center", "gap": "16px"}):
        solara.HTML(tag="h3", unsafe_innerHTML="summary.csv", classes=["pw-h3"])
        solara.FileDownload(
            view.summary.to_csv(index=False), filename="summary.csv", label="Download summary.csv"
        )
    solara.HTML(tag="div", unsafe_innerHTML=summary_html(view), classes=["pw-summary-box"])


@solara.component
def ComparePage():
    session = use_session()
    saved = session.get("compare", dict)
    try:
        known = [n for n, _ in scenario_list()]
    except Exception as exc:  # pragma: no cover - a broken catalogue
        known, list_error = [], str(exc)
    else:
        list_error = None
    chosen = solara.use_reactive(
        saved.get("chosen", [n for n in ("baseline", "moderated_community") if n in known])
    )
    reps = solara.use_reactive(saved.get("reps", "5"))
    people = solara.use_reactive(saved.get("people", "1000"))
    days = solara.use_reactive(saved.get("days", "180"))
    seed = solara.use_reactive(saved.get("seed", str(ROOT_SEED.default)))
    folder = solara.use_reactive(saved.get("folder", DEFAULT_FOLDER))
    load_from = solara.use_reactive(saved.get("load_from", ""))
    view = solara.use_reactive(saved.get("view"))
    progress = solara.use_reactive((0, 0))
    message = solara.use_reactive(("error", list_error) if list_error else None)

    def remember():
        saved.update(
            chosen=chosen.value, reps=reps.value, people=people.value, days=days.value,
            seed=seed.value, folder=folder.value, load_from=load_from.value, view=view.value,
        )  # fmt: skip

    def run_job(kind: str):
        """In a thread: run (or load) the comparison while updating the progress bar."""
        box: dict = {}
        if kind == "load":
            try:
                box["view"] = load_store(load_from.value)
            except PeerwellError as exc:
                box["error"] = str(exc)
        else:
            try:
                request = _request(chosen.value, reps.value, people.value, days.value, seed.value)
                request["folder"] = str(check_folder(folder.value))
                files = planned_files(
                    request["scenarios"], request["replicates"], request["overrides"],
                    request["folder"], request["root_seed"],
                )  # fmt: skip
                _check_memory(request, len(files))
            except (PeerwellError, ValueError) as exc:
                message.set(("error", str(exc)))
                return
            total = len(files)
            progress.set((sum(p.exists() for p in files), total))
            worker = threading.Thread(
                target=_run_into, args=(box, request, request["folder"], total), daemon=True
            )
            worker.start()
            while worker.is_alive():
                worker.join(0.3)
                progress.set((sum(p.exists() for p in files), total))
        if "error" in box:
            message.set(("error", box["error"]))
            return
        box["view"].png = compare_png(box["view"])  # drawn here, not while the page renders
        view.set(box["view"])
        message.set(("info", f"Done: {box['view'].note}."))
        remember()

    task = use_task(run_job, dependencies=None)
    busy = task.pending

    def start(kind: str):
        message.set(None)
        progress.set((0, 0))
        remember()
        task(kind)

    with solara.Column(classes=["pw-page", "pw-compare"]):
        solara.HTML(tag="h2", unsafe_innerHTML="Compare scenarios", classes=["pw-title"])
        solara.HTML(
            tag="p",
            unsafe_innerHTML="Choose two or more scenarios; the first is the reference of every "
            "paired difference. The runs are stored in the folder below (finished runs are "
            "reused), exactly as <code>peerwell compare</code> stores them.",
            classes=["pw-caption"],
        )
        with solara.Row(style={"align-items": "flex-start", "gap": "20px", "flex-wrap": "wrap"}):
            with solara.Column(style={"flex": "2", "min-width": "360px"}):
                solara.SelectMultiple(
                    "Scenarios (the first is the reference)",
                    values=chosen.value,
                    all_values=known,
                    on_value=chosen.set,
                    disabled=busy,
                )
                for n, d in _descriptions(chosen.value):
                    solara.HTML(
                        tag="div",
                        unsafe_innerHTML=f"<b>{html.escape(n)}</b>: {html.escape(d)}",
                        classes=["pw-caption"],
                    )
            with solara.Column(style={"flex": "1", "min-width": "260px"}):
                solara.InputText(
                    "Replicates",
                    value=reps,
                    disabled=busy,
                    continuous_update=True,
                    message=REPLICATES.help,
                )
                solara.InputText(
                    f"People ({SPECS['population.size'].unit})",
                    value=people,
                    disabled=busy,
                    continuous_update=True,
                )
                solara.InputText(
                    f"Days ({SPECS['steps'].unit})",
                    value=days,
                    disabled=busy,
                    continuous_update=True,
                )
            with solara.Column(style={"flex": "1", "min-width": "260px"}):
                solara.InputText(
                    "Root seed",
                    value=seed,
                    disabled=busy,
                    continuous_update=True,
                    message=ROOT_SEED.help,
                )
                solara.InputText(
                    "Result folder", value=folder, disabled=busy, continuous_update=True
                )
                solara.Button(
                    "Run comparison",
                    on_click=lambda: start("run"),
                    color="primary",
                    disabled=busy,
                    classes=["pw-run-compare"],
                )
        with solara.Details(summary="…or load a comparison that `peerwell compare` wrote"):
            with solara.Row(style={"align-items": "center", "gap": "16px"}):
                solara.InputText(
                    "Folder with comparison.json and summary.csv",
                    value=load_from,
                    disabled=busy,
                    continuous_update=True,
                )
                solara.Button(
                    "Load",
                    on_click=lambda: start("load"),
                    disabled=busy,
                    outlined=True,
                    classes=["pw-load-compare"],
                )
        done, total = progress.value
        if busy:
            pct = 100.0 * done / total if total else False
            solara.ProgressLinear(pct if total else True)
            solara.HTML(
                tag="div",
                unsafe_innerHTML=f"Running: {done} of {total} runs done…" if total else "Working…",
                classes=["pw-progress-text"],
            )
        if message.value:
            kind, text = message.value
            (solara.Error if kind == "error" else solara.Info)(text, classes=["pw-message"])
        if view.value is not None:
            CompareResult(view.value)


def _descriptions(names: list[str]) -> list[tuple[str, str]]:
    try:
        known = dict(scenario_list())
    except Exception:  # pragma: no cover
        return []
    return [(n, known.get(n, "")) for n in names]


def _request(chosen, reps, people, days, seed) -> dict:
    """Check the form; ``ValueError`` with a sentence for the page."""
    if len(chosen) < 2:
        raise ValueError("choose at least two scenarios to compare")
    return {
        "scenarios": list(chosen),
        "replicates": parse_value(REPLICATES, reps),
        "overrides": {
            "population.size": parse_value(SPECS["population.size"], people),
            "steps": parse_value(SPECS["steps"], days),
        },
        "root_seed": parse_value(ROOT_SEED, seed),
    }


def _n_jobs(request: dict, total: int) -> int:
    """1 to run in this process, -1 for worker processes on every core (joblib's meaning)."""
    # Small comparisons are quicker in this process than in fresh worker processes (which
    # start Python, import numba and load the compiled kernels first).
    work = total * request["overrides"]["population.size"] * request["overrides"]["steps"]
    return 1 if work < IN_PROCESS_WORK or (os.cpu_count() or 1) < 2 else -1


def _check_memory(request: dict, total: int) -> None:
    """Refuse a comparison whose models, as many at once as it runs, exceed the session's budget.

    Raises
    ------
    MemoryBudgetError
        Says what the runs need, the budget, and what population fits.
    """
    at_once = 1 if _n_jobs(request, total) == 1 else min(os.cpu_count() or 1, total)
    for name in request["scenarios"]:
        check_memory(scenario_params(name, request["overrides"]), copies=max(at_once, 1))


def _run_into(box: dict, request: dict, folder: str, total: int) -> None:
    """Worker thread: run the comparison, leave the view or the error in ``box``."""
    # Imported on first use, to keep startup fast (as in planned_files).
    from peerwell.scenarios.experiments.compare import run_comparison

    t0 = time.perf_counter()
    try:
        result = run_comparison(
            request["scenarios"],
            request["replicates"],
            request["overrides"],
            folder,
            n_jobs=_n_jobs(request, total),
            progress=False,
            root_seed=request["root_seed"],
            figures=False,
            notify=lambda text: None,
            command="peerwell dashboard (Compare page)",
        )
        box["view"] = CompareView(
            scenarios=result.scenarios,
            replicates=result.replicates,
            people=request["overrides"]["population.size"],
            days=request["overrides"]["steps"],
            folder=result.output_dir,
            summary=result.summary,
            bands=_bands(result.trajectories),
            note=f"{len(result.runs)} runs ({result.reused} reused) in "
            f"{time.perf_counter() - t0:.1f} s, stored in {result.output_dir}",
        )
    except PeerwellError as exc:
        box["error"] = str(exc)
    except OSError as exc:
        box["error"] = f"cannot write to {folder!r}: {exc.strerror or exc}"
    except Exception as exc:  # keep the page alive and say what went wrong
        box["error"] = f"the comparison failed: {type(exc).__name__}: {exc}"

"""The performance suite of issue #8 in one go, written to benchmarks/RESULTS.md.

    python -m benchmarks [--quick] [--output PATH] [--sizes 10000,100000,1000000] [--people 10000]

Run from the source checkout (``make bench`` does, after installing the ``bench`` extra): the
suite is not part of the installed package. Runs ``bench_model`` (the full model against the
plain per-agent Mesa reference), ``bench_sis`` (SIS on one graph: NDlib, idiomatic Mesa and
peerwell's production kernels), ``bench_scale`` (10k, 100k and 1M people, with a simulated year
at the largest size), ``bench_threads`` (1 thread, 2 and the automatic choice) and
``bench_sweep`` (sweep throughput). Every figure at k threads comes from a fresh process started
with ``NUMBA_NUM_THREADS=k``. Then writes RESULTS.md (and the raw figures as RESULTS.json beside
it): the date, the machine and its load, the versions, every goal of the issue with its target
and whether it is met, each benchmark's tables, and the exact command.

``--quick`` is a smoke run at small sizes (seconds, for tests and CI): its figures say that the
suite works, not how fast peerwell is; it batches each thread count's measurements into one
process, runs the two processes at once, and writes benchmarks/RESULTS-quick.md unless
``--output`` says otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import io
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

SCRIPTS = ("bench_model", "bench_sis", "bench_scale", "bench_threads")
GOAL_SIZE = 1_000_000  # goals 1, 2 and 4
SMALL_SIZE = 10_000  # goal 3
YEAR_SECONDS = 120.0
PEAK_BYTES = 1.5e9
GATHER_RATIO = 4.0
REFERENCE_RATIO = 100.0
NDLIB_RATIO = 100.0
THREAD_SPEEDUP = 1.6
PER_TIE_GROWTH = 1.1  # goal 5: per-tie cost may grow at most 10% (timing noise) from 10k to 1M
BUSY_LOAD_PER_CORE = 0.5

QUICK = {
    "bench_model": ["--people", "1000", "--steps", "10", "--ref-steps", "2", "--repeats", "1"],
    "bench_sis": ["--people", "1000", "--steps", "30", "--repeats", "2", "--peerwell-repeats", "2"],
    "bench_scale": ["--sizes", "1000,2000", "--steps", "10", "--year"],
    "bench_threads": ["--sizes", "1000,3000", "--days", "10"],
}


PROG = "python -m benchmarks"
HERE = Path(__file__).resolve().parent


def fail(message: str) -> NoReturn:
    """Print a user-facing error (no traceback) and exit 2, as argparse does for a bad option."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


# ---------------------------------------------------------------------------------------------
# The machine and the versions


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _ram_gb() -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024 / 1e9
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    return math.nan


def machine() -> dict:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_gb": _ram_gb(),
        "os": platform.platform(),
    }


def other_work(seconds: float = 3.0) -> float:
    """Cores kept busy by other processes just before the suite starts (from /proc/stat).

    The load average cannot say this: it decays over minutes, so it still counts work that has
    just ended, and at the end of the suite it counts the suite's own threads.
    """

    def busy_idle() -> tuple[int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v) - idle, idle

    try:
        b0, i0 = busy_idle()
        time.sleep(seconds)
        b1, i1 = busy_idle()
    except (OSError, ValueError, IndexError):
        return math.nan
    total = (b1 - b0) + (i1 - i0)
    return round((os.cpu_count() or 1) * (b1 - b0) / total, 2) if total > 0 else math.nan


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return [math.nan] * 3


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("peerwell", "numpy", "numba", "mesa", "networkx", "ndlib"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    if out["ndlib"] != "not installed":
        try:
            import ndlib.models.epidemics  # noqa: F401  (NDlib 6.0.1 needs `six`, undeclared)
        except Exception as exc:  # any import failure means the SIS row is skipped
            out["ndlib"] = f"not installed ({out['ndlib']} is present but does not import: {exc})"
    return out


def git_revision(repo: Path) -> str:
    """``HEAD``'s commit, with a note if the working tree differs (reads only; no index writes)."""
    git = ["git", "-C", str(repo), "--no-optional-locks"]
    try:
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
        if head.returncode != 0:
            return "unknown (not a git checkout)"
        status = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True)  # fmt: skip
    except OSError:
        return "unknown (git not found)"
    changed = len(status.stdout.splitlines())
    return head.stdout.strip() + (f" + uncommitted changes in {changed} file(s)" if changed else "")


# ---------------------------------------------------------------------------------------------
# The goals of the issue


def _process(r: dict, fmt: str) -> str:
    """The worker's whole wall time, when the task had the process to itself."""
    return fmt.format(r["process_s"]) if "process_s" in r else ""


def _status(ok: bool | None, at_goal: bool, where: str) -> str:
    if ok is None:
        return "not measured"
    if at_goal:
        return "PASS" if ok else "FAIL"
    return f"n/a: measured at {where} ({'would pass' if ok else 'would fail'})"


def goals(res: dict) -> list[dict]:
    """Every figure of the issue's goals with its target and whether it is met."""
    model, sis, scale = res["bench_model"], res["bench_sis"], res["bench_scale"]
    threads = res["bench_threads"]
    rows = []
    sizes = scale["sizes"]
    big = sizes[-1]
    at_big = big == GOAL_SIZE
    rows_at = {(r["n"], r["threads"]): r for r in scale["rows"]}
    pair = {p["n"]: p for p in scale["pairs"]}

    year = scale["year"]
    if year is None:
        rows.append({"goal": "1. A simulated year at 1M people", "target": f"< {YEAR_SECONDS:.0f} s",
                     "measured": "not run (--no-year)", "status": "not measured"})  # fmt: skip
    else:
        n = year["n"]
        at = n == GOAL_SIZE
        rows += [
            {
                "goal": "1. Full model, 365 days, 2 threads: wall clock including the build",
                "target": f"< {YEAR_SECONDS:.0f} s",
                "measured": f"{year['total_s']:.1f} s (build {year['build_s']:.1f} s"
                + _process(
                    year,
                    "; the whole process incl. Python start, imports and loading "
                    "the kernels: {:.1f} s",
                )
                + ")",
                "status": _status(year["total_s"] < YEAR_SECONDS, at, f"{n:,} people"),
            },
            {
                "goal": "1. … peak memory",
                "target": f"< {PEAK_BYTES / 1e9:g} GB",
                "measured": f"{year['peak_mb'] * 2**20 / 1e9:.2f} GB",
                "status": _status(year["peak_mb"] * 2**20 < PEAK_BYTES, at, f"{n:,} people"),
            },
            {
                "goal": "1. … person-steps per second",
                "target": "report",
                "measured": f"{year['person_steps_per_s']:.3g}",
                "status": "reported",
            },
        ]
    two = rows_at[(big, 2)]
    ratio = two["day_over_gather"]
    one = rows_at[(big, 1)]["day_over_gather"]
    rows.append({
        "goal": "2. Full model day / bare float64 neighbour gather, same CSR graph, 2 threads "
        "(median of the days' own ratios [middle 90%])",
        "target": f"≤ {GATHER_RATIO:g}",
        "measured": f"{ratio['median']:.2f} [{ratio['p5']:.2f}–{ratio['p95']:.2f}] "
        f"({1000 * two['day_s']:.1f} ms / {1000 * two['gather_s']:.1f} ms; "
        f"1 thread {one['median']:.2f} [{one['p5']:.2f}–{one['p95']:.2f}])",
        "status": _status(ratio["median"] <= GATHER_RATIO, at_big, f"{big:,} people"),
    })  # fmt: skip

    mrows = {(r.get("threads"), r.get("recording")): r for r in model["rows"]}
    daily = mrows[(2, "daily")]
    at_small = model["people"] == SMALL_SIZE
    rows.append({
        "goal": "3. Full model vs plain per-agent Mesa reference, person-steps/s "
        "(2 threads, daily recording)",
        "target": f"≥ {REFERENCE_RATIO:g}×",
        "measured": f"{daily['ratio']:.0f}× ({daily['rate']:.3g} vs {model['reference_rate']:.3g}; "
        f"1 thread {mrows[(1, 'daily')]['ratio']:.0f}×)",
        "status": _status(daily["ratio"] >= REFERENCE_RATIO, at_small, f"{model['people']:,} people"),
    })  # fmt: skip
    at_small = sis["people"] == SMALL_SIZE
    where = f"{sis['people']:,} people"
    srows = sis["rows"]
    if "ndlib" in srows:
        pr = sis["paired"]
        auto, one, two = pr["peerwell_auto"], pr["peerwell_1"], pr[f"peerwell_{sis['threads']}"]
        rows.append({
            "goal": "3. peerwell's SIS configuration vs NDlib SISModel, node-updates/s "
            "(run by run in turn: median [range] of the per-round ratios; automatic threads)",
            "target": f"≥ {NDLIB_RATIO:g}× (median)",
            "measured": f"{auto['median']:.1f}× [{auto['low']:.1f}–{auto['high']:.1f}] "
            f"({sis['auto_threads']} thread(s) chosen; forced 1 thread {one['median']:.1f}× "
            f"[{one['low']:.1f}–{one['high']:.1f}], {sis['threads']} threads "
            f"{two['median']:.1f}× [{two['low']:.1f}–{two['high']:.1f}]; bare kernel "
            f"{pr['bare_1']['median']:.1f}×)",
            "status": _status(auto["median"] >= NDLIB_RATIO, at_small, where),
        })  # fmt: skip
    else:
        rows.append({"goal": "3. peerwell's SIS configuration vs NDlib SISModel",
                     "target": f"≥ {NDLIB_RATIO:g}×", "measured": sis["ndlib_note"],
                     "status": "not measured"})  # fmt: skip
    rows.append({
        "goal": "3. … endemic prevalence agrees (see the SIS section)",
        "target": "every check within tolerance",
        "measured": "; ".join(f"{c['a']} vs {c['b']} {c['difference']:+.4f} (tol {c['tolerance']:.4f})"
                              for c in sis["checks"]),
        "status": _status(sis["agree"], at_small, where),
    })  # fmt: skip
    p = pair[big]
    rows.append({
        "goal": "4. 2 threads vs 1, full model day; results bit-identical",
        "target": f"≥ {THREAD_SPEEDUP:g}×, identical",
        "measured": f"{p['speedup']:.2f}×, {'identical' if p['bit_identical'] else 'DIFFERENT'} "
        f"(the SIS runs: {'identical' if sis['bit_identical'] else 'DIFFERENT'})",
        "status": _status(p["speedup"] >= THREAD_SPEEDUP and p["bit_identical"], at_big,
                          f"{big:,} people"),
    })  # fmt: skip
    cost = {n: rows_at[(n, 2)]["ns_per_tie"] for n in sizes}
    growth = max(cost.values()) / cost[sizes[0]]
    full_range = sizes[0] <= SMALL_SIZE and big >= GOAL_SIZE
    rows.append({
        "goal": "5. Time per step per tie, 2 threads (ns per tie end)",
        "target": f"no growth with size (largest ≤ {PER_TIE_GROWTH:g}× the smallest size's)",
        "measured": ", ".join(f"{n:,}: {c:.2f}" for n, c in cost.items()) + f" (growth {growth:.2f}×)",
        "status": _status(growth <= PER_TIE_GROWTH, full_range,
                          f"{', '.join(f'{n:,}' for n in sizes)} people"),
    })  # fmt: skip
    wrong = [f"{r['n']:,} {r['config']}" for r in threads["rows"]
             if (r["auto_threads"] > 1) != (r["all_over_one"]["median"] < 1.0)
             and abs(r["all_over_one"]["median"] - 1.0) > 0.05]  # fmt: skip
    rows.append({
        "goal": "6. A second thread never slows a run: the automatic choice takes the faster "
        "count (beyond 5% in the median day)",
        "target": "at every size measured",
        "measured": "; ".join(
            f"{r['n']:,} {r['config']}: {r['auto_threads']} thr, 2/1 "
            f"{r['all_over_one']['median']:.2f}" for r in threads["rows"]),
        "status": "PASS" if not wrong else f"FAIL at {', '.join(wrong)}",
    })  # fmt: skip
    return rows


# ---------------------------------------------------------------------------------------------
# The report


def _table(header: list[str], rows: list[list]) -> str:
    from peerwell.analysis.tables import markdown_table  # the suite imports peerwell only here

    return markdown_table(header, rows, escape=True)


def render(meta: dict, res: dict, goal_rows: list[dict], outputs: dict[str, str]) -> str:
    m, v = meta["machine"], meta["versions"]
    model, sis, scale = res["bench_model"], res["bench_sis"], res["bench_scale"]
    lines = ["# peerwell performance results", ""]
    if meta["quick"]:
        lines += [
            "> **Quick smoke run** (`--quick`: small sizes, one process per thread count, both "
            "running at once): it shows the suite works end to end; its figures are not "
            "peerwell's performance.",
            "",
        ]
    busy = meta["other_work_cores"] >= BUSY_LOAD_PER_CORE * m["cores"]
    lines += [
        f"Produced by `{meta['command']}` on {meta['date']} in {meta['seconds'] / 60:.1f} minutes.",
        "Generated; do not edit by hand.",
        "",
        "## Machine",
        "",
        _table(["what", "value"], [
            ["CPU", m["cpu"]],
            ["cores", f"{m['cores']} ({m['usable_cores']} usable by this process)"],
            ["RAM", f"{m['ram_gb']:.1f} GB"],
            ["OS", m["os"]],
            ["load average (1, 5, 15 min) at start", ", ".join(map(str, meta["load_start"]))],
            ["load average (1, 5, 15 min) at end (counts the suite itself)", ", ".join(map(str, meta["load_end"]))],
            ["cores busy with other work in the 3 s before the start", f"{meta['other_work_cores']:.2f}"],
        ]),
    ]  # fmt: skip
    if busy:
        lines += [
            f"> **Warning: the machine was busy** ({meta['other_work_cores']:.2f} of "
            f"{m['cores']} cores taken by other processes just before the start): other "
            "work shared the cores, so these timings are pessimistic and the thread speed-ups "
            "unreliable. Rerun on an idle machine for figures to quote.",
            "",
        ]
    lines += [
        "## Versions",
        "",
        _table(["package", "version"], [[k, val] for k, val in v.items()] + [["git commit", meta["git"]]]),
        "## Goals (issue #8)",
        "",
        _table(["goal", "target", "measured", "result"],
               [[g["goal"], g["target"], g["measured"], g["status"]] for g in goal_rows]),
        "Goals 1, 2 and 4 are judged at 1,000,000 people (mean degree 20), goal 3 at 10,000 and "
        "goal 5 over 10,000 to 1,000,000, goal 6 at every size `bench_threads.py` measures; a "
        "figure measured at other sizes is shown but not judged.",
        "",
    ]  # fmt: skip

    lines += [
        f"## 1. Full model vs the plain per-agent reference ({model['people']:,} people)",
        "",
        f"`bench_model.py`: {model['steps']} days, medians of {model['repeats']} runs; the "
        f"reference (`simulation/reference.py`, plain per-agent Mesa) over {model['ref_steps']} days.",
        "",
        _table(["implementation", "person-steps/s", "× reference"],
               [[r["label"], f"{r['rate']:.3g}", f"{r['ratio']:.0f}"] for r in model["rows"]]),
    ]  # fmt: skip

    srows = sis["rows"]
    every = max(1, sis["steps"] // 10)
    base = sis["base"]
    lines += [
        f"## 2. SIS on one graph: NDlib, Mesa and peerwell ({sis['people']:,} people)",
        "",
        f"`bench_sis.py`: one Barabási–Albert graph (m = {sis['m']}, {sis['ties']:,} ties), "
        f"β = {sis['beta']:g} per infected tie, μ = {sis['mu']:g}, {sis['initial']:.0%} infected "
        f"at step 0 (the same people everywhere), {sis['steps']} steps; medians of "
        f"{sis['repeats']} runs ({sis['peerwell_repeats']} for peerwell). peerwell is the "
        "production kernels in `peerwell validate model=sis`'s configuration with the feed off "
        "and the graph as `network=edgelist`; like every validation it runs only the submodels "
        "the contagion reads (posting, exchange, misinformation: `submodels.*`), which gives the "
        "belief trajectories of the whole model bit for bit.",
        "",
        "NDlib, peerwell and the bare kernel run in turn, round by round, in one process, so "
        "load falls on all alike; the last column is the median and range of each round's "
        "ratio to that round's NDlib run.",
        "",
        _table(["implementation", "node-updates/s", f"× {base}", "× Mesa",
                "× NDlib per round: median [range]"],
               [[r["label"], f"{r['rate']:.3g}", f"{r['rate'] / srows[base]['rate']:.1f}",
                 f"{r['rate'] / srows['mesa']['rate']:.1f}",
                 (f"{sis['paired'][k]['median']:.1f} [{sis['paired'][k]['low']:.1f}–"
                  f"{sis['paired'][k]['high']:.1f}]") if k in sis["paired"] else ""]
                for k, r in srows.items()]),
        f"peerwell {sis['threads']} threads vs 1: {sis['threads_speedup']:.2f}×; the automatic "
        f"choice runs {sis['auto_threads']} thread(s) at {sis['people']:,} people; trajectories "
        f"and final state arrays bit-identical for every thread count: {sis['bit_identical']}."
        + (f" {sis['ndlib_note']}" if sis["ndlib_note"] else ""),
        "",
        "The bare kernel is SIS and nothing else (`worker.bare_sis_step`: int8 states, only "
        "susceptible people gather), the floor on this machine; peerwell's production kernels "
        f"run at {sis['share_of_floor']['1']:.2f} (1 thread) and "
        f"{sis['share_of_floor'][str(sis['threads'])]:.2f} ({sis['threads']} threads) of its "
        "rate. Like it, peerwell gathers only for the susceptible (on a day "
        "nobody reads the other flows, the exchange computes only what the belief update reads: "
        "ODD §3); the rest is the model's second pass (posting), its full belief rule and Mesa's "
        "step.",
        "",
        "The same runs with every submodel running (the whole day, all eleven, automatic "
        f"threads): {sis['whole_day_rate']:.3g} node-updates/s "
        f"({sis['whole_day_rate'] / srows[base]['rate']:.1f}× {base}); belief counts "
        f"identical to the SIS configuration's every day: {sis['whole_day_same']}.",
        "",
        f"Prevalence (infected share, mean of the runs) every {every} steps:",
        "",
        _table(["step", *srows],
               [[s, *(f"{r['trajectory'][s]:.4f}" for r in srows.values())]
                for s in range(0, sis["steps"] + 1, every)]),
        f"Endemic prevalence, mean over the last {sis['window']} steps (± SE over runs):",
        "",
        _table(["implementation", "endemic prevalence"],
               [[r["label"], f"{r['endemic']:.4f} ± {r['endemic_se']:.4f}"] for r in srows.values()]),
        _table(["check", "difference", "tolerance (4 pooled SE + 1/N)", "agree"],
               [[f"{c['a']} vs {c['b']}", f"{c['difference']:+.4f}", f"{c['tolerance']:.4f}",
                 "yes" if c["agree"] else "NO"] for c in sis["checks"]]),
        f"peerwell − {base} (the refractory day, not checked): {sis['refractory_gap']:+.4f}.",
        "",
        f"What differs: {sis['semantics']}",
        "",
    ]  # fmt: skip

    srow = []
    for r in scale["rows"]:
        srow.append([f"{r['n']:,}", r["threads"], f"{r['ties']:,}", f"{r['build_s']:.2f}",
                     f"{1000 * r['day_s']:.2f}", f"{1000 * r['gather_s']:.2f}",
                     f"{r['day_over_gather']['median']:.2f} [{r['day_over_gather']['p5']:.2f}–"
                     f"{r['day_over_gather']['p95']:.2f}]", f"{r['ns_per_tie']:.2f}",
                     f"{r['peak_mb']:.0f}"])  # fmt: skip
    lines += [
        f"## 3. Scale (mean degree {scale['degree']:g})",
        "",
        "`bench_scale.py`: a full model day (every mechanism, daily recording; median over the "
        "days) against a bare float64 neighbour gather over the same CSR graph; ns per tie end = "
        "day time / (2 × ties); peak memory of the measuring process"
        + (" (one process per thread count here, so cumulative)." if meta["quick"] else "."),
        "",
        _table(["people", "threads", "ties", "build s", "day ms", "gather ms",
                "day/gather median [5–95%]", "ns/tie end", "peak MB"], srow),
        _table(["people", "2 threads vs 1", "bit-identical"],
               [[f"{p['n']:,}", f"{p['speedup']:.2f}×", p["bit_identical"]] for p in scale["pairs"]]),
    ]  # fmt: skip
    if scale["year"]:
        y = scale["year"]
        lines += [
            f"A year: {y['n']:,} people, 365 days, 2 threads: {y['total_s']:.1f} s including a "
            f"{y['build_s']:.1f} s build{_process(y, ' ({:.1f} s for the whole process)')}; "
            f"{y['person_steps_per_s']:.3g} person-steps/s; peak memory {y['peak_mb']:.0f} MB.",
            "",
        ]
    last = [r for r in scale["rows"] if r["threads"] == 2][-1]
    lines += [
        f"ms per day by submodel at {last['n']:,} people, 2 threads (timed over 3 more days after "
        "the run, so the day above is an untimed one):",
        "",
        _table(["submodel", "ms/day"], [[k, f"{v:.2f}"] for k, v in last["mechanisms_ms"].items()]),
        "",
    ]  # fmt: skip
    threads = res["bench_threads"]
    lines += [
        "## 4. One thread or two: the automatic choice",
        "",
        "`bench_threads.py`: three models with one seed stepped in lockstep in one process "
        "started with 2 threads: on 1 thread, on 2, and with the model's own choice (1 thread "
        f"below {threads['one_thread_below']:,} people + tie ends, 2 from "
        f"{threads['all_threads_from']:,}, and in between the faster of the two as timed on its "
        "first days: `model.ThreadChoice`). Ratios are per day, to the same day on 1 thread: "
        "median [middle 90%]; the automatic model's include its days of timing.",
        "",
        _table(["people", "config", "people + tie ends", "1 thread ms", "2 threads ms",
                "2 / 1", "automatic", "automatic / 1", "bit-identical"],
               [[f"{r['n']:,}", r["config"], f"{r['n'] + r['tie_ends']:,}",
                 f"{r['day_ms']['one']:.3f}", f"{r['day_ms']['all']:.3f}",
                 f"{r['all_over_one']['median']:.2f} [{r['all_over_one']['p5']:.2f}–"
                 f"{r['all_over_one']['p95']:.2f}]", r["auto_threads"],
                 f"{r['auto_over_one']['median']:.2f} [{r['auto_over_one']['p5']:.2f}–"
                 f"{r['auto_over_one']['p95']:.2f}]", r["identical"]]
                for r in threads["rows"]]),
        "## Exact command",
        "",
        # `text`, not shell: the docs tests run every shell block they show, and a full run takes
        # minutes (tests/test_scale.py runs `python -m benchmarks --quick` instead).
        "```text",
        meta["command"],
        "```",
        "",
        "The same measurements, one script at a time (run from the checkout; each script "
        "starts a fresh process per thread count and task):",
        "",
        "```text",
        *(f"python -m benchmarks.{name} {shlex.join(args)}" for name, args in meta["script_args"].items()),
        "```",
        "",
        "## Full output",
        "",
    ]  # fmt: skip
    for name, text in outputs.items():
        lines += [f"<details><summary>{name}.py</summary>", "", "```text", text.rstrip(), "```",
                  "", "</details>", ""]  # fmt: skip
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------


class _Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, s):
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self):
        for st in self.streams:
            st.flush()


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])  # fmt: skip
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run at small sizes (seconds; for tests and CI)")  # fmt: skip
    ap.add_argument("--output", type=Path, default=None,
                    help="where to write the report (default benchmarks/RESULTS.md, "
                    "or benchmarks/RESULTS-quick.md with --quick); RESULTS.json goes beside it")  # fmt: skip
    ap.add_argument("--sizes", default=None,
                    help="people per scale run, comma-separated (default 10000,100000,1000000)")  # fmt: skip
    ap.add_argument("--people", type=int, default=None,
                    help="people in the model and SIS comparisons (default 10000)")  # fmt: skip
    ap.add_argument("--no-year", action="store_true", help="skip the simulated year")
    return ap.parse_args(argv)


def script_args(a: argparse.Namespace) -> dict[str, list[str]]:
    if a.quick:
        out = {k: list(v) for k, v in QUICK.items()}
    else:
        out = {"bench_model": [], "bench_sis": [], "bench_scale": ["--year"], "bench_threads": []}
    if a.people:
        out["bench_model"] = [*out["bench_model"], "--people", str(a.people)]
        out["bench_sis"] = [*out["bench_sis"], "--people", str(a.people)]
    if a.sizes:
        out["bench_scale"] = [*out["bench_scale"], "--sizes", a.sizes]
    if a.no_year:
        out["bench_scale"] = [x for x in out["bench_scale"] if x != "--year"]
    return out


def run_suite(args: dict[str, list[str]], batched: bool):
    """Run the four benchmarks; return their results and their printed output."""
    from benchmarks import worker  # Numba: imported only when measuring, not for --help

    mods = {name: importlib.import_module(f"benchmarks.{name}") for name in SCRIPTS}
    parsed = {name: mods[name].parse(args[name]) for name in SCRIPTS}
    results, outputs = {}, {}
    with tempfile.TemporaryDirectory(prefix="peerwell-bench-") as tmp:
        planned = {name: mods[name].plan(parsed[name], Path(tmp)) for name in SCRIPTS}
        if batched:
            measured = dict(zip(SCRIPTS, worker.run_batched([planned[n][0] for n in SCRIPTS],
                                                            concurrently=True)))  # fmt: skip
        for name in SCRIPTS:
            print(f"\n== {name}.py {shlex.join(args[name])}", flush=True)
            tasks, ctx = planned[name]
            done = measured[name] if batched else worker.run_each(tasks)
            buf = io.StringIO()
            with contextlib.redirect_stdout(_Tee(sys.stdout, buf)):
                results[name] = mods[name].report(parsed[name], ctx, done)
            outputs[name] = buf.getvalue()
    return results, outputs


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "item"):  # numpy scalars
        return x.item()
    return x


def main(argv: list[str]) -> int:
    """Run the suite with the options ``argv`` and write its report; the exit code."""
    a = parse(argv)
    output = a.output or HERE / ("RESULTS-quick.md" if a.quick else "RESULTS.md")
    output = output.expanduser().absolute()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot write to --output {output}: {exc.strerror or exc}")
    args = script_args(a)
    meta = {
        "command": f"{PROG} {shlex.join(argv)}" if argv else PROG,
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "quick": a.quick,
        "machine": machine(),
        "versions": versions(),
        "git": git_revision(HERE.parent),
        "load_start": load_average(),
        "other_work_cores": other_work(),
        "script_args": args,
    }
    if meta["versions"]["ndlib"].startswith("not installed"):
        print("note: NDlib is not installed, so the SIS comparison skips it; install the bench "
              "extra for the full comparison: pip install -e '.[bench]'", file=sys.stderr)  # fmt: skip
    t0 = time.perf_counter()
    try:
        results, outputs = run_suite(args, batched=a.quick)
        # Issue 23: sweep throughput (bench_sweep.py times whole `peerwell sweep` commands).
        sweeps = importlib.import_module("benchmarks.bench_sweep").for_suite(a.quick)
        results["bench_sweep"], outputs["bench_sweep"] = sweeps
    except (RuntimeError, SystemExit) as exc:
        fail(f"a benchmark failed: {exc}")
    meta["seconds"] = time.perf_counter() - t0
    meta["load_end"] = load_average()
    goal_rows = goals(results) + results["bench_sweep"]["goals"]
    text = render(meta, results, goal_rows, outputs)
    try:
        output.write_text(text, encoding="utf-8")
        output.with_suffix(".json").write_text(
            json.dumps(_jsonable({"meta": meta, "goals": goal_rows, "results": results}), indent=1)
        )
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    print("\ngoals:")
    for g in goal_rows:
        print(f"  {g['goal']}: {g['measured']} (target {g['target']}): {g['status']}")
    print(f"\nwrote {output} and {output.with_suffix('.json').name} ({meta['seconds']:.0f} s)")
    return 0

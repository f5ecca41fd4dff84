"""Faults: kill -9 at random moments, a full disk, corrupted run files — nothing lost or corrupted.

The commands run as ``peerwell.scenarios.cli.core.main(argv)`` — what the ``peerwell`` console script
calls — each in a process of its own that is killed with SIGKILL or given a file-size limit. To
keep a dozen launches cheap on two cores, those processes are forked from one helper process that
has imported peerwell and loaded the compiled kernels once (a "zygote", started per module): a
fork starts in milliseconds instead of the five seconds of a fresh interpreter. The helper uses
Numba's ``workqueue`` threading layer, the one that survives fork; results do not depend on the
threading layer (tests below check them bit for bit against uninterrupted runs). Real fresh
interpreters are killed in ``test_reliability.py``, ``test_compare.py`` and ``test_sweep.py``.

Counts for the issue note are at the end of the module (``FAULTS``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

SEED = 20261127  # the kill offsets are drawn from random.Random(SEED): reproducible
# Seconds before a forked command is taken as hung (the longest takes about 20 s alone, a few
# times that beside the other test worker).
COMMAND_TIMEOUT = 300

ZYGOTE = textwrap.dedent(
    """
    import faulthandler, json, os, resource, signal, sys, time, traceback
    os.environ["NUMBA_THREADING_LAYER"] = "workqueue"  # fork-safe, unlike GNU OpenMP
    # No tqdm monitor thread: forked while it held tqdm's lock, a child deadlocked on its first
    # progress bar (seen once, with the other test worker loading the machine).
    import tqdm
    tqdm.tqdm.monitor_interval = 0
    from peerwell.scenarios.cli.core import load_commands, main
    from peerwell.scenarios.experiments.runner import simulate
    from peerwell.simulation.params import ModelParams, with_overrides
    load_commands()
    simulate(with_overrides(ModelParams(), {"population.size": 60, "steps": 2}))  # load kernels
    from peerwell.scenarios.catalogue import load_scenario
    load_scenario("baseline")  # Hydra's plugins and config repository, found once
    print("ready", flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "wait":
            # The child dumps its stacks and exits at its own deadline (below); this one is the
            # backstop for a child too stuck even for that.
            deadline = time.monotonic() + req["timeout"] + 30
            while True:
                pid, status = os.waitpid(req["pid"], os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    os.kill(req["pid"], signal.SIGKILL)
                    _, status = os.waitpid(req["pid"], 0)
                    break
                time.sleep(0.02)
            code = os.waitstatus_to_exitcode(status)
            print(json.dumps({"code": code}), flush=True)
            continue
        pid = os.fork()
        if pid:
            print(json.dumps({"pid": pid}), flush=True)
            continue
        code = 70
        try:
            out = os.open(req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            err = os.open(req["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(out, 1)
            os.dup2(err, 2)
            os.chdir(req["cwd"])
            # A hung command fails its test with every thread's stack in its .err file, within
            # minutes, instead of holding CI until its limit.
            faulthandler.dump_traceback_later(req["timeout"], exit=True, file=sys.stderr)
            if req.get("fsize"):
                # A full disk, honestly: writes beyond the limit fail with EFBIG (SIGXFSZ,
                # which would kill the process instead, is ignored as a full disk sends none).
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
                resource.setrlimit(resource.RLIMIT_FSIZE, (req["fsize"], hard))
            try:
                code = main(req["args"]) or 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    """
)


@dataclass
class Done:
    code: int
    out: str
    err: str
    seconds: float


class Zygote:
    """A helper process that forks one `peerwell` command per request (see the module doc)."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=workdir,
        )
        assert self._read() == "ready"
        self.n = 0

    def _read(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the zygote died")
        return line.strip()

    def _ask(self, req: dict) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return json.loads(self._read())

    def start(self, args: list[str], fsize: int | None = None) -> tuple[int, Path, Path]:
        self.n += 1
        out, err = self.workdir / f"cmd{self.n}.out", self.workdir / f"cmd{self.n}.err"
        pid = self._ask(
            {"op": "start", "args": args, "out": str(out), "err": str(err),
             "cwd": str(self.workdir), "fsize": fsize, "timeout": COMMAND_TIMEOUT}
        )["pid"]  # fmt: skip
        return pid, out, err

    def wait(self, pid: int) -> int:
        return self._ask({"op": "wait", "pid": pid, "timeout": COMMAND_TIMEOUT})["code"]

    def run(self, args: list[str], fsize: int | None = None) -> Done:
        t0 = time.perf_counter()
        pid, out, err = self.start(args, fsize)
        code = self.wait(pid)
        return Done(code, out.read_text(), err.read_text(), time.perf_counter() - t0)

    def run_and_kill(self, args: list[str], after: float) -> int:
        """Start a command, SIGKILL it after ``after`` seconds; return its exit code (-9 if killed)."""
        pid, _, _ = self.start(args)
        time.sleep(after)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return self.wait(pid)

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    z = Zygote(tmp_path_factory.mktemp("zygote"))
    yield z
    z.close()


# Tallied for the note (printed at the end of the module with -s; asserted nowhere).
FAULTS = {"sigkill": 0, "sigkill_landed": 0, "full_disk": 0, "corrupt_files": 0}


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    print(f"\nfaults injected by test_reliability_faults.py: {FAULTS}")


# ---------------------------------------------------------------------------------------------
# What "no partial file is visible" means, checked after every kill


def _final_files(folder: Path) -> list[Path]:
    """Files a reader would take as results: every file whose name does not start with a dot,
    outside Hydra's own bookkeeping (``.hydra/``, ``jobs/``, logs)."""
    if not folder.exists():
        return []
    out = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder).parts
        if not p.is_file() or any(part.startswith(".") for part in rel) or rel[0] == "jobs":
            continue
        if p.suffix == ".log":
            continue
        out.append(p)
    return out


def assert_every_visible_file_is_whole(folder: Path, steps: int) -> int:
    """Every result file parses completely; a run file holds every day. Returns how many."""
    files = _final_files(folder)
    for f in files:
        if f.suffix == ".parquet":
            df = pd.read_parquet(f, page_checksum_verification=True)
            if f.parent.name == "runs" or f.name == "trajectories.parquet":
                assert int(df["step"].max()) == steps and len(df) == steps + 1, f
        elif f.suffix == ".json":
            json.loads(f.read_text())
        elif f.suffix == ".csv":
            pd.read_csv(f)
        elif f.suffix == ".png":
            assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f.read_bytes()[-8:-4] == b"IEND"
        elif f.suffix in (".md", ".yaml"):
            f.read_text()
    return len(files)


def run_frames(folder: Path) -> dict[str, pd.DataFrame]:
    return {f.stem: pd.read_parquet(f) for f in sorted((folder / "runs").glob("*.parquet"))}


def assert_same_runs(got: Path, want: Path) -> None:
    """The same run files, with bit-identical trajectories (not file bytes: those hold times)."""
    a, b = run_frames(got), run_frames(want)
    assert sorted(a) == sorted(b)
    for rid in a:
        pd.testing.assert_frame_equal(a[rid], b[rid], check_exact=True)


def kill_repeatedly(zygote, args, folder, steps, reference_seconds, kills, rng) -> list[int]:
    """Kill the command ``kills`` times at random offsets, checking the folder after each."""
    codes = []
    print(f"\n{args[0]}: uninterrupted {reference_seconds:.2f} s", end="")
    for _ in range(kills):
        # Anywhere from the start (parsing, Hydra composing) to near the end of a whole run;
        # after a kill the rerun has less left to do, so some later offsets land after the end.
        after = rng.uniform(0.0, 0.9 * reference_seconds)
        code = zygote.run_and_kill(args, after)
        codes.append(code)
        print(f"; kill at {after:.2f} s -> {code}", end="")
        FAULTS["sigkill"] += 1
        FAULTS["sigkill_landed"] += code == -signal.SIGKILL
        assert code in (0, -signal.SIGKILL), code
        assert_every_visible_file_is_whole(folder, steps)
    return codes


# ---------------------------------------------------------------------------------------------
# kill -9 at random moments: run, compare, sweep


def test_kill_nine_at_random_moments_during_compare_then_rerun_is_identical(zygote, tmp_path):
    steps = 30
    common = ["scenarios=[baseline,offline_only]", "replicates=2", f"steps={steps}",
              "population.size=200", "n_jobs=1", "progress=false", "figures=false"]  # fmt: skip
    ref = zygote.run(["compare", *common, f"output_dir={tmp_path / 'ref'}"])
    assert ref.code == 0, ref.err
    out = tmp_path / "killed"
    args = ["compare", *common, f"output_dir={out}"]
    codes = kill_repeatedly(zygote, args, out, steps, ref.seconds, 3, random.Random(SEED))
    assert codes.count(-signal.SIGKILL) >= 2, codes  # most kills landed mid-work
    again = zygote.run(args)
    assert again.code == 0, again.err
    manifest = json.loads((out / "comparison.json").read_text())
    ids = [r["run_id"] for r in manifest["runs"]]
    assert len(ids) == len(set(ids)) == 4
    assert sorted(f.stem for f in (out / "runs").glob("*.parquet")) == sorted(ids)
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]
    assert_same_runs(out, tmp_path / "ref")
    assert (out / "summary.csv").read_bytes() == (tmp_path / "ref" / "summary.csv").read_bytes()


def test_kill_nine_at_random_moments_during_sweep_then_rerun_is_identical(zygote, tmp_path):
    steps = 30
    common = ["-m", "scenario=baseline,offline_only", "seed=1,2", f"steps={steps}",
              "population.size=200", "hydra/launcher=basic"]  # fmt: skip
    ref = zygote.run(["sweep", *common, f"hydra.sweep.dir={tmp_path / 'ref'}"])
    assert ref.code == 0, ref.err
    d = tmp_path / "killed"
    args = ["sweep", *common, f"hydra.sweep.dir={d}"]
    codes = kill_repeatedly(zygote, args, d, steps, ref.seconds, 3, random.Random(SEED + 1))
    assert codes.count(-signal.SIGKILL) >= 2, codes
    again = zygote.run(args)
    assert again.code == 0, again.err
    plan = json.loads((d / "sweep.json").read_text())
    files = sorted((d / "runs").glob("*.parquet"))
    assert len(files) == plan["n_runs"] == 4
    assert {f.stem for f in files} == {r["run_id"] for r in plan["runs"]}
    assert not [p for p in (d / "runs").iterdir() if p.name.startswith(".")]
    assert not (d / ".locks").exists()
    assert_same_runs(d, tmp_path / "ref")
    c = zygote.run(["collect", str(d)])
    assert c.code == 0 and "skipped" not in c.out + c.err, c.err


def test_kill_nine_at_random_moments_during_run_then_rerun_is_identical(zygote, tmp_path):
    steps = 30
    common = ["seed=5", f"steps={steps}", "population.size=300"]
    ref = zygote.run(["run", *common, f"output_dir={tmp_path / 'ref'}"])
    assert ref.code == 0, ref.err
    out = tmp_path / "killed"
    args = ["run", *common, f"output_dir={out}"]
    kill_repeatedly(zygote, args, out, steps, ref.seconds, 3, random.Random(SEED + 2))
    # what a kill between write and rename leaves (hidden from readers): removed by the rerun
    (out / ".trajectories.parquet.tmp-999999999").write_bytes(b"partial")
    (out / ".trajectories.tmp-999999999.png").write_bytes(b"partial")
    again = zygote.run(args)
    assert again.code == 0, again.err
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "trajectories.parquet"),
        pd.read_parquet(tmp_path / "ref" / "trajectories.parquet"),
        check_exact=True,
    )
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != ".hydra"]


# ---------------------------------------------------------------------------------------------
# A full disk


def snapshot(folder: Path) -> dict[str, bytes]:
    """The bytes of every result file (not Hydra's bookkeeping or logs, which each run rewrites)."""
    skip = ("sweep.json", "multirun.yaml")
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in _final_files(folder)
        if p.name not in skip
    }


def assert_one_clear_line(done: Done, *words: str) -> None:
    text = done.out + done.err
    assert done.code != 0, text
    assert "Traceback" not in text, text
    for w in words:
        assert w in text, f"{w!r} not in {text!r}"


# Small enough that a run file (about 50 kB) cannot be written, large enough for Hydra's .hydra/
# files and the JSON sidecars: the first write that fails is one of peerwell's own.
FULL_AT_RUN_FILE = 20_000
# So small that even Hydra's first file, .hydra/config.yaml (about 4 kB), does not fit.
FULL_AT_FIRST_WRITE = 1_000


def test_full_disk_during_run_is_one_clear_error_and_the_earlier_run_is_intact(zygote, tmp_path):
    out = tmp_path / "run"
    common = ["steps=20", "population.size=200", f"output_dir={out}"]
    first = zygote.run(["run", "seed=1", *common])
    assert first.code == 0, first.err
    before = snapshot(out)
    assert {"trajectories.parquet", "run.json", "trajectories.png"} <= set(before)
    for limit in (FULL_AT_FIRST_WRITE, FULL_AT_RUN_FILE):
        full = zygote.run(["run", "seed=2", *common], fsize=limit)
        FAULTS["full_disk"] += 1
        assert_one_clear_line(full, str(out), "File too large")
        assert snapshot(out) == before  # the earlier run, byte for byte
        assert_every_visible_file_is_whole(out, 20)


def test_full_disk_during_compare_keeps_the_finished_runs(zygote, tmp_path):
    out = tmp_path / "cmp"
    common = ["scenarios=[baseline,offline_only]", "steps=20", "population.size=200",
              f"output_dir={out}", "n_jobs=1", "progress=false", "figures=false"]  # fmt: skip
    assert zygote.run(["compare", *common, "replicates=2"]).code == 0
    before = snapshot(out)
    full = zygote.run(["compare", *common, "replicates=3"], fsize=FULL_AT_RUN_FILE)
    FAULTS["full_disk"] += 1
    assert_one_clear_line(full, "cannot write the comparison", str(out), "File too large")
    assert snapshot(out) == before
    assert_every_visible_file_is_whole(out, 20)
    # With space again, the same command finishes, reusing the four runs.
    done = zygote.run(["compare", *common, "replicates=3"])
    assert done.code == 0 and "4 reused" in done.out, done.out + done.err


def test_full_disk_during_sweep_keeps_the_finished_runs(zygote, tmp_path):
    d = tmp_path / "sweep"
    common = ["-m", "steps=20", "population.size=200", "hydra/launcher=basic",
              f"hydra.sweep.dir={d}"]  # fmt: skip
    assert zygote.run(["sweep", *common, "seed=1,2"]).code == 0
    before = snapshot(d)
    assert len([k for k in before if k.endswith(".parquet")]) == 2
    full = zygote.run(["sweep", *common, "seed=1,2,3"], fsize=FULL_AT_RUN_FILE)
    FAULTS["full_disk"] += 1
    assert_one_clear_line(full, "cannot write run", str(d / "runs"), "File too large")
    after = snapshot(d)
    assert {k: v for k, v in after.items() if k in before} == before
    assert not [k for k in after if k.endswith(".parquet") and k not in before]
    assert_every_visible_file_is_whole(d, 20)
    full = zygote.run(["sweep", *common, "seed=1,2,3"], fsize=FULL_AT_FIRST_WRITE)
    FAULTS["full_disk"] += 1
    assert_one_clear_line(full, "File too large")
    assert {k: v for k, v in snapshot(d).items() if k in before} == before
    done = zygote.run(["sweep", *common, "seed=1,2,3"])
    assert done.code == 0 and "(1 new, 2 already there)" in done.out, done.out + done.err


@pytest.mark.parametrize("command", ["compare", "sweep", "collect"])
def test_an_output_folder_that_cannot_exist_is_refused_before_any_work(tmp_path, command, capsys):
    from peerwell.scenarios.cli.core import main

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    args = {
        "compare": ["compare", "scenarios=[baseline]", "replicates=1", "steps=2",
                    f"output_dir={blocker}/out"],
        "sweep": ["sweep", "seed=1", "steps=2", f"hydra.sweep.dir={blocker}/out"],
        "collect": ["collect", f"{blocker}/out"],
    }[command]  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        main(args)
    text = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in text
    assert str(blocker) in text
    FAULTS["full_disk"] += 1


# ---------------------------------------------------------------------------------------------
# Corrupted run files in the store


def damage(path: Path, how: str, other: Path | None = None) -> None:
    raw = path.read_bytes()
    if how == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(random.Random(1).randbytes(len(raw)))
    elif how == "bit-flip":
        # One bit flipped inside a column's data pages: the footer still reads, the page
        # checksum does not match.
        md = pq.ParquetFile(io.BytesIO(raw)).metadata
        col = md.row_group(0).column(md.num_columns // 2)
        start = col.dictionary_page_offset or col.data_page_offset
        data = bytearray(raw)
        data[start + col.total_compressed_size - 3] ^= 0x10
        path.write_bytes(bytes(data))
    elif how == "another run":
        shutil.copyfile(other, path)
    FAULTS["corrupt_files"] += 1


DAMAGE = ["truncated", "empty", "garbage", "bit-flip", "another run"]


@pytest.fixture(scope="module")
def small_compare(tmp_path_factory):
    from peerwell.scenarios.experiments.compare import run_comparison

    out = tmp_path_factory.mktemp("cmp")
    result = run_comparison(
        ["baseline", "offline_only"], 3, ["steps=20", "population.size=200"], out,
        n_jobs=1, progress=False, figures=False,
    )  # fmt: skip
    return out, result


def test_compare_reports_every_damaged_run_file_by_name_and_reruns_it(small_compare, tmp_path):
    from peerwell.scenarios.cli.core import main

    ref, _ = small_compare
    out = tmp_path / "copy"
    shutil.copytree(ref, out)
    files = sorted((out / "runs").glob("*.parquet"))
    for f, how in zip(files, DAMAGE):
        damage(f, how, other=files[-1])
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["compare", "scenarios=[baseline,offline_only]", "replicates=3", "steps=20",
                     "population.size=200", f"output_dir={out}", "n_jobs=1", "progress=false",
                     "figures=false"])  # fmt: skip
    assert code == 0
    text = err.getvalue()
    assert "Traceback" not in text
    for f in files[: len(DAMAGE)]:
        assert f.name in text and "running it again" in text, (f.name, text)
    manifest = json.loads((out / "comparison.json").read_text())
    assert sorted(r["status"] for r in manifest["runs"]) == ["rerun"] * 5 + ["reused"]
    # Never used: the numbers are those of the undamaged comparison.
    assert (out / "summary.csv").read_bytes() == (ref / "summary.csv").read_bytes()
    assert_same_runs(out, ref)


def test_collect_reports_and_leaves_out_every_damaged_run_file(small_compare, tmp_path, capsys):
    from peerwell.scenarios.cli.core import main

    ref, _ = small_compare
    d = tmp_path / "store"  # collect reads any store: runs/<run_id>.parquet
    shutil.copytree(ref / "runs", d / "runs")
    files = sorted((d / "runs").glob("*.parquet"))
    for f, how in zip(files, DAMAGE):
        damage(f, how, other=files[-1])
    (d / "runs" / "0000000000000000.parquet").write_bytes(b"PAR1")  # a stray, named like a run
    FAULTS["corrupt_files"] += 1
    assert main(["collect", str(d)]) == 0
    text = "".join(capsys.readouterr())
    assert "Traceback" not in text
    for f in [*files[: len(DAMAGE)], d / "runs" / "0000000000000000.parquet"]:
        assert f"skipped {f.name}" in text, (f.name, text)
    table = pd.read_parquet(d / "collected.parquet")
    good = {f.stem for f in files[len(DAMAGE) :]}
    assert good and set(table["run_id"]) == good and len(table) == len(good) * 21
    # and what was kept is exactly what the runs wrote
    for rid in good:
        want = pd.read_parquet(ref / "runs" / f"{rid}.parquet")
        got = table[table["run_id"] == rid].reset_index(drop=True)
        for col in ("step", "care_seeking_share", "self_stigma_mean"):
            pd.testing.assert_series_equal(got[col], want[col], check_exact=True)


def test_a_bit_flip_in_a_run_file_is_caught_by_its_page_checksums(small_compare, tmp_path):
    from peerwell.scenarios.experiments.store import read_run

    ref, _ = small_compare
    f = sorted((ref / "runs").glob("*.parquet"))[0]
    copy = tmp_path / f.name
    shutil.copyfile(f, copy)
    damage(copy, "bit-flip")
    assert pq.read_metadata(copy).num_rows == 21  # the footer still reads
    with pytest.raises(ValueError, match="unreadable"):
        read_run(copy, f.stem, 20)

"""Real clusters on this machine, for tests/test_clusters.py: SLURM (with accounting) and Dask.

Every daemon listens on 127.0.0.1 only, on ports free at start-up, with its configuration, state,
sockets and logs in a temporary folder; every one is started in the foreground by these helpers
and stopped by its own pid when the fixture ends, whether the tests passed or not. Nothing in
``/etc`` or ``/run`` is read or changed (munge gets a key and a socket of its own), so a cluster
that the machine may already run is neither used nor disturbed.

**SLURM** is Debian's ``slurm-wlm`` 22.05: ``munged``, MariaDB (``mariadbd``) behind ``slurmdbd``,
``slurmctld`` and one ``slurmd`` node. Accounting is not optional here: submitit (Hydra's SLURM
launcher) learns that a job ended without a result (``scancel``, a node failure) from ``sacct``
alone, and ``sacct`` needs ``slurmdbd``. Without it a cancelled job's driver would wait forever.

**Dask** is ``dask scheduler`` plus ``dask worker`` (two single-threaded worker processes) from
this interpreter's environment (the extra ``peerwell[dask]``).

When a program is missing, the tests are skipped with the reason, except in CI (``CI=true``),
where a missing program is a failure: CI installs them (``.ci/run``, the Makefile).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Daemons live in /usr/sbin, which a user's PATH may lack.
SBIN = os.pathsep.join(["/usr/sbin", "/sbin", "/usr/local/sbin"])
SLURM_PROGRAMS = ("munged", "mariadb-install-db", "mariadbd", "mariadb", "slurmdbd")
SLURM_PROGRAMS += ("slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sacct", "sacctmgr")
SLURM_PACKAGES = "apt-get install slurm-wlm munge slurmdbd mariadb-server-core mariadb-client-core"
# Job records, job array tasks and the accounting database all carry this cluster name.
CLUSTER = "peerwelltest"
PARTITION = "debug"
ACCOUNT = "peerwell"
# Seconds between SIGTERM and SIGKILL of a cancelled job (SLURM's default is 30).
KILL_WAIT = 2


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def program(name: str) -> str | None:
    return shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), SBIN]))


def require(programs: tuple[str, ...], install: str, *, root: bool = False) -> None:
    """Skip (on a developer's machine) or fail (in CI) when a program the cluster needs is absent."""
    missing = [p for p in programs if program(p) is None]
    problem = None
    if missing:
        problem = f"{', '.join(missing)} not found (install: {install})"
    elif root and os.geteuid() != 0:
        problem = "a SLURM node runs jobs as their owner: starting slurmd needs root"
    if problem:
        if in_ci():
            pytest.fail(f"CI must provide the cluster: {problem}", pytrace=False)
        pytest.skip(problem)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the daemon binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, ready: Callable[[], bool], timeout: float, daemons: Daemons) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        daemons.check_alive()
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s\n{daemons.logs()}")


def _die_with_parent() -> None:
    # In the daemon, before exec: SIGTERM when the test process dies, even by SIGKILL, when the
    # fixture's clean-up cannot run.
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class Daemons:
    """Daemons started in the foreground, each in a session of its own, stopped last-first."""

    logdir: Path
    env: dict[str, str]
    procs: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], **kwargs) -> subprocess.Popen:
        with open(self.logdir / f"{name}.out", "ab") as log:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
                **kwargs,
            )
        self.procs.append((name, proc))
        return proc

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}\n{self.logs()}")

    def logs(self, tail: int = 3000) -> str:
        parts = []
        for path in sorted(self.logdir.glob("*")):
            if path.is_file() and path.suffix in (".out", ".log"):
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.clear()


def run(argv: list[str], env: dict[str, str], timeout: float = 60) -> str:
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r.stdout


# ---------------------------------------------------------------------------------------------
# SLURM


@dataclass
class Slurm:
    """A running single-node SLURM cluster: commands reach it through ``env`` (SLURM_CONF)."""

    root: Path
    env: dict[str, str]
    partition: str = PARTITION
    account: str = ACCOUNT

    def cmd(self, *argv: str, timeout: float = 60) -> str:
        return run([program(argv[0]) or argv[0], *argv[1:]], self.env, timeout)

    def jobs(self) -> list[tuple[str, str]]:
        """(job id, state) of every job in the queue; array tasks as ``<array job>_<task>``."""
        out = self.cmd("squeue", "-h", "-r", "-o", "%i %T")
        return [tuple(line.split()) for line in out.splitlines() if line.strip()]

    def wait_empty(self, timeout: float = 180) -> None:
        """Wait until every job has ended (and fail the test if one has not)."""
        t0 = time.monotonic()
        while self.jobs():
            if time.monotonic() - t0 > timeout:
                pytest.fail(f"jobs still queued after {timeout:.0f} s: {self.jobs()}")
            time.sleep(0.5)

    def cancel_all(self, timeout: float = 60) -> None:
        """Cancel every job and wait until the queue is empty (no job step left running)."""
        with contextlib.suppress(Exception):
            self.cmd("scancel", f"--user={os.getuid()}")
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            try:
                if not self.jobs():
                    return
            except Exception:
                return  # the controller is gone: nothing to wait for
            time.sleep(0.5)


def _slurm_conf(root: Path, ports: dict[str, int], cpus: int, mem_mb: int) -> str:
    host = socket.gethostname()
    return f"""\
# A single-node cluster for peerwell's tests, on loopback (tests/clusters.py).
ClusterName={CLUSTER}
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ports["slurmctld"]}
SlurmdPort={ports["slurmd"]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge/munge.socket
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool/%n
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd-%n.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: a container or a CI machine may not delegate them.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
# sacct (submitit's view of ended jobs) reads the accounting database through slurmdbd.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={ports["slurmdbd"]}
# With MUNGE, this names the socket of the munged for slurmdbd (AuthInfo's is not used there).
AccountingStoragePass={root}/munge/munge.socket
JobCompType=jobcomp/none
ReturnToService=2
KillWait={KILL_WAIT}
InactiveLimit=0
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
MessageTimeout=20
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def _slurmdbd_conf(root: Path, ports: dict[str, int]) -> str:
    return f"""\
AuthType=auth/munge
AuthInfo=socket={root}/munge/munge.socket
DbdAddr=127.0.0.1
DbdHost={socket.gethostname()}
DbdPort={ports["slurmdbd"]}
SlurmUser=root
PidFile={root}/run/slurmdbd.pid
LogFile={root}/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports["mariadb"]}
StorageUser=slurm
StorageLoc=slurm_acct_db
"""


def _node_memory_mb() -> int:
    # slurmd drains a node that has less memory than its configured RealMemory: configure less.
    with open("/proc/meminfo") as f:
        total_kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    return max(1000, min(8000, total_kb // 1024 // 2))


@contextlib.contextmanager
def start_slurm(root: Path) -> Iterator[Slurm]:
    """Start munged, MariaDB, slurmdbd, slurmctld and slurmd under ``root``; stop them after."""
    require(SLURM_PROGRAMS, SLURM_PACKAGES, root=True)
    for sub in ("munge", "db", "state", "spool", "run", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    ports = {name: free_port() for name in ("slurmctld", "slurmd", "slurmdbd", "mariadb")}
    conf = root / "slurm.conf"
    conf.write_text(_slurm_conf(root, ports, os.cpu_count() or 1, _node_memory_mb()))
    dbd = root / "slurmdbd.conf"  # slurmdbd reads it from SLURM_CONF's folder
    dbd.write_text(_slurmdbd_conf(root, ports))
    dbd.chmod(0o600)  # slurmdbd refuses a readable one (it may hold a database password)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    env["PATH"] = os.pathsep.join([env.get("PATH", ""), SBIN])
    for var in [v for v in env if v.startswith(("SLURM_", "SBATCH_", "SRUN_"))]:
        if var != "SLURM_CONF":  # a test run inside a SLURM job must not inherit its job's
            del env[var]
    daemons = Daemons(root / "log", env)
    slurm = Slurm(root, env)
    try:
        key = root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        munge_socket = root / "munge" / "munge.socket"
        daemons.start(
            "munged",
            [
                program("munged"),
                "--foreground",
                "--force",  # root owns the key and the folders: munged warns and goes on
                f"--key-file={key}",
                f"--socket={munge_socket}",
                f"--pid-file={root / 'run' / 'munged.pid'}",
                f"--log-file={root / 'log' / 'munged.log'}",
                f"--seed-file={root / 'munge' / 'munged.seed'}",
            ],
        )
        wait_for("munged", munge_socket.exists, 30, daemons)

        datadir, dbsock = root / "db", root / "run" / "mariadb.sock"
        run(
            [
                program("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={datadir}",
                "--user=root",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            env,
            timeout=180,
        )
        daemons.start(
            "mariadbd",
            [
                program("mariadbd"),
                "--no-defaults",
                f"--datadir={datadir}",
                f"--socket={dbsock}",
                f"--port={ports['mariadb']}",
                "--bind-address=127.0.0.1",
                f"--pid-file={root / 'run' / 'mariadbd.pid'}",
                f"--log-error={root / 'log' / 'mariadbd.log'}",
                "--user=root",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
                # slurmdbd's tables are many and small: fsync per commit is most of their cost
                "--innodb-flush-log-at-trx-commit=0",
            ],
        )
        sql = [program("mariadb"), f"--socket={dbsock}", "-u", "root"]
        wait_for("mariadbd", lambda: run([*sql, "-e", "SELECT 1"], env) is not None, 60, daemons)
        run(
            [
                *sql,
                "-e",
                "CREATE USER 'slurm'@'127.0.0.1'; CREATE USER 'slurm'@'localhost'; "
                "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; "
                "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';",
            ],
            env,
        )

        daemons.start("slurmdbd", [program("slurmdbd"), "-D"])
        wait_for(
            "slurmdbd",
            lambda: slurm.cmd("sacctmgr", "-n", "list", "cluster") is not None,
            90,
            daemons,
        )
        slurm.cmd("sacctmgr", "-i", "add", "cluster", CLUSTER)
        slurm.cmd(
            "sacctmgr",
            "-i",
            "add",
            "account",
            ACCOUNT,
            f"cluster={CLUSTER}",
            "description=peerwell tests",
            "organization=peerwell",
        )
        user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        slurm.cmd("sacctmgr", "-i", "add", "user", user, f"account={ACCOUNT}", f"cluster={CLUSTER}")

        daemons.start("slurmctld", [program("slurmctld"), "-D", "-i"])
        daemons.start("slurmd", [program("slurmd"), "-D"])

        def node_idle() -> bool:
            return slurm.cmd("sinfo", "-h", "-o", "%T").split() == ["idle"]

        wait_for("the SLURM node", node_idle, 90, daemons)
        yield slurm
    finally:
        try:
            if any(name == "slurmctld" for name, _ in daemons.procs):
                slurm.cancel_all()
        finally:
            daemons.stop()


# ---------------------------------------------------------------------------------------------
# Dask


def _by_value() -> None:
    # Functions of this module run on the scheduler and the workers (run_on_scheduler, the
    # holding tasks), which cannot import tests/clusters.py: ship their code, not their name.
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


@dataclass
class Dask:
    """A running Dask cluster: a scheduler and ``workers`` single-threaded worker processes."""

    address: str
    workers: int

    def client(self):
        import distributed

        _by_value()
        return distributed.Client(self.address, timeout=30, set_as_default=False)

    def worker_pids(self) -> set[int]:
        with self.client() as c:
            return set(c.run(os.getpid).values())

    def wait_idle(self, timeout: float = 120) -> None:
        """Wait until no worker runs a task (a task running when its client died goes on)."""
        t0 = time.monotonic()
        with self.client() as c:
            while any(c.run(_executing_here).values()):
                if time.monotonic() - t0 > timeout:
                    pytest.fail(f"the Dask workers are still busy after {timeout:.0f} s")
                time.sleep(0.2)


def _executing_here(dask_worker) -> int:
    return len(dask_worker.state.executing)


@contextlib.contextmanager
def hold_workers(cluster: Dask, n: int) -> Iterator[None]:
    """Keep ``n`` workers busy (as other users' work would) until the block ends.

    Each holder is a task that waits on a cluster-wide ``distributed.Event``; jobs submitted
    meanwhile queue behind it, so a test knows they have not started.
    """
    import distributed

    name = f"peerwell-hold-{os.getpid()}-{time.monotonic_ns()}"
    with cluster.client() as c:
        addresses = sorted(c.scheduler_info(n_workers=-1)["workers"])[:n]
        event = distributed.Event(name, client=c)

        def hold(event_name: str) -> None:
            distributed.Event(event_name).wait()

        holders = [
            c.submit(hold, name, workers=[a], allow_other_workers=False, pure=False)
            for a in addresses
        ]
        try:
            wait_started = time.monotonic()
            while c.run_on_scheduler(_executing, [h.key for h in holders]) < n:
                if time.monotonic() - wait_started > 60:
                    raise RuntimeError("the holding tasks did not start")
                time.sleep(0.1)
            yield
        finally:
            event.set()
            c.gather(holders)


def sweep_keys(client) -> list[str]:
    """Keys of the sweep tasks on the scheduler (peerwell's Dask launcher names them)."""
    _by_value()
    return client.run_on_scheduler(_sweep_keys)


def _sweep_keys(dask_scheduler) -> list[str]:
    return [str(k) for k in dask_scheduler.tasks if str(k).startswith("peerwell-job-")]


def _executing(keys, dask_scheduler) -> int:
    return sum(
        1
        for k in keys
        if k in dask_scheduler.tasks and dask_scheduler.tasks[k].state == "processing"
    )


@contextlib.contextmanager
def start_dask(root: Path, workers: int = 2) -> Iterator[Dask]:
    """Start ``dask scheduler`` and one ``dask worker`` command with ``workers`` processes."""
    import importlib.util

    dask_cli = Path(sys.executable).with_name("dask")
    if importlib.util.find_spec("distributed") is None or not dask_cli.exists():
        problem = f"Dask's distributed is not installed in {sys.prefix} (pip install -e '.[dask]')"
        if in_ci():
            pytest.fail(f"CI must provide the cluster: {problem}", pytrace=False)
        pytest.skip(problem)
    (root / "worker").mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    # One BLAS/OpenMP thread per worker process: each runs one job at a time (--nthreads 1).
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env["MKL_NUM_THREADS"] = "1"
    daemons = Daemons(root, env)
    cluster = Dask(address, workers)
    pids: set[int] = set()
    try:
        daemons.start(
            "dask-scheduler",
            [
                str(dask_cli),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
            ],
            cwd=root,
        )
        daemons.start(
            "dask-worker",
            [
                str(dask_cli),
                "worker",
                address,
                "--host",
                "127.0.0.1",
                "--nworkers",
                str(workers),
                "--nthreads",
                "1",
                "--no-dashboard",
                "--memory-limit",
                "0",
                "--local-directory",
                str(root / "worker"),
                # a worker whose scheduler is gone exits instead of waiting for it forever
                "--death-timeout",
                "60",
            ],
            cwd=root,
        )

        def all_workers() -> bool:
            return len(cluster.worker_pids()) == workers

        wait_for("the Dask workers", all_workers, 90, daemons)
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            pids = cluster.worker_pids()
        daemons.stop()
        # The worker command's processes are its children: stopped with it, or here by pid.
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------------------------------------
# Fixtures (import them into a test module). One cluster per test class: the SLURM and the Dask
# cluster are never up at the same time.


@pytest.fixture(scope="class")
def slurm(tmp_path_factory) -> Iterator[Slurm]:
    with start_slurm(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster


@pytest.fixture(scope="class")
def dask_cluster(tmp_path_factory) -> Iterator[Dask]:
    with start_dask(tmp_path_factory.mktemp("dask")) as cluster:
        yield cluster

"""A Hydra launcher that runs each job of a multirun as one task on a Dask cluster.

The driver connects to a running scheduler (``hydra.launcher.address=tcp://HOST:8786``),
submits one task per job and waits for all of them; each task composes its job's config on the
worker and runs it with Hydra's ``run_job``, as the joblib launcher does in its processes. What
every job shares (the Hydra context, the driver's config, the task function, Hydra's global
state) is pickled once and scattered to the cluster, not sent with every task.

A job that ends without a result (its task cancelled, or lost with the workers that ran it as
often as Dask retries) is returned as a failed job, so Hydra stops the sweep with one message
naming it once every other job has finished; the runs that did finish are in the store, and the
same command resumes. A worker that dies has its tasks rerun elsewhere by Dask itself. A
task that is already running when it is cancelled, or when the driver dies, runs to its end (a
Python thread cannot be stopped): peerwell's per-run locks make a rerun wait for it rather than
compute the run twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra.errors import CompactHydraException
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)


class DaskLaunchError(CompactHydraException):
    """The sweep cannot start on the cluster, or a job of it ended without a result.

    A CompactHydraException, so Hydra reports it as one message rather than a traceback.
    """


def execute_job(idx: int, overrides: list[str], shared: bytes) -> JobReturn:
    """On a worker: compose job ``idx``'s config and run it (Hydra's ``run_job``)."""
    import cloudpickle
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import run_job

    hydra_context, config, task_function, singleton_state = cloudpickle.loads(shared)
    setup_globals()
    Singleton.set_state(singleton_state)
    sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    HydraConfig.instance().set_config(sweep_config)
    return run_job(
        hydra_context=hydra_context,
        config=sweep_config,
        task_function=task_function,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )


class DaskLauncher(Launcher):
    """Launch a multirun's jobs as tasks of a Dask scheduler.

    Parameters
    ----------
    address : str or None
        The scheduler, e.g. ``tcp://10.0.0.5:8786``. None: Dask's own setting
        (``DASK_SCHEDULER_ADDRESS``, or ``scheduler-address`` in its config files).
    connect_timeout : float
        Seconds to wait for the scheduler to answer.
    """

    def __init__(self, address: str | None = None, connect_timeout: float = 30.0) -> None:
        self.address = address
        self.connect_timeout = float(connect_timeout)
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.task_function = task_function
        self.hydra_context = hydra_context

    def _address(self) -> str:
        import dask.config

        address = self.address or dask.config.get("scheduler-address", None)
        if not address:
            # Dask's Client() would start a local cluster instead; that is joblib's job.
            raise DaskLaunchError(
                "hydra/launcher=dask needs the scheduler's address: "
                "hydra.launcher.address=tcp://HOST:8786 (or DASK_SCHEDULER_ADDRESS)"
            )
        return str(address)

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        assert self.config is not None and self.hydra_context is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        if not sweep_dir.is_absolute():
            raise DaskLaunchError(
                f"hydra.sweep.dir={sweep_dir} is relative: Dask workers run in folders of their "
                "own; give an absolute path on a file system the workers share"
            )
        try:
            import cloudpickle
            import distributed
        except ImportError:
            raise DaskLaunchError(
                "hydra/launcher=dask needs Dask's distributed scheduler: "
                "pip install 'peerwell[dask]'"
            ) from None
        address = self._address()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        try:
            client = distributed.Client(address, timeout=self.connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise DaskLaunchError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        with client:
            log.info(
                "Dask scheduler %s (%d workers) is launching %d jobs; sweep output dir: %s",
                address,
                len(client.scheduler_info().get("workers", {})),
                len(job_overrides),
                sweep_dir,
            )
            shared = cloudpickle.dumps(
                (self.hydra_context, self.config, self.task_function, Singleton.get_state())
            )
            [shared_future] = client.scatter([shared], hash=False)
            # Keys name the sweep and the job (the cluster's dashboard shows them); the token
            # keeps a rerun's tasks apart from those of a driver that died.
            token = uuid.uuid4().hex[:8]
            futures = []
            for i, overrides in enumerate(job_overrides):
                idx = initial_job_idx + i
                log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
                futures.append(
                    client.submit(
                        execute_job,
                        idx,
                        list(overrides),
                        shared_future,
                        key=f"peerwell-job-{idx}-{token}",
                        pure=False,
                    )
                )
            with client.as_current():  # wait() looks for its client there
                try:
                    distributed.wait(futures)
                except CancelledError:  # raised once all have ended; reported per job below
                    pass
            return [
                self._job_return(fut, initial_job_idx + i, list(ov))
                for i, (fut, ov) in enumerate(zip(futures, job_overrides, strict=True))
            ]

    @staticmethod
    def _job_return(future: Any, idx: int, overrides: list[str]) -> JobReturn:
        if future.status == "finished":
            result = future.result()
            assert isinstance(result, JobReturn)
            return result
        job = f"job #{idx} ({' '.join(filter_overrides(overrides))})"
        if future.status == "cancelled":
            what = "was cancelled on the Dask cluster before it finished"
        else:  # e.g. KilledWorker: the workers that ran it died, as often as Dask allows
            what = f"failed on the Dask cluster: {future.exception()!r}"
        error = DaskLaunchError(
            f"{job} {what}; the finished runs are in the store: rerun the same command to resume"
        )
        return JobReturn(overrides=overrides, status=JobStatus.FAILED, _return_value=error)

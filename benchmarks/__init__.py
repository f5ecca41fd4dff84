"""peerwell's performance suite (issues #8 and 23), run from the source checkout, not installed.

``python -m benchmarks`` (what ``make bench`` runs) runs every benchmark and writes
``benchmarks/RESULTS.md`` (:mod:`benchmarks.suite`). Each benchmark also runs alone as
``python -m benchmarks.bench_model`` (``bench_sis``, ``bench_scale``, ``bench_threads``,
``bench_sweep``, ``bench_dashboard``); :mod:`benchmarks.worker` holds the measurements that need
a fresh process per Numba thread count. Benchmarks print figures and assert nothing; the
properties they rest on are tested in ``tests/``.
"""

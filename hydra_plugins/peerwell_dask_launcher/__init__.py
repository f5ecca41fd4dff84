"""peerwell's Hydra launcher for Dask clusters (``hydra/launcher=dask``, extra ``peerwell[dask]``).

It lives under ``hydra_plugins`` because Hydra instantiates launchers from that package only.
No maintained Hydra launcher for Dask exists on PyPI (checked 2026-12), and Hydra's Ray launcher
pins ``cloudpickle<3``, which cannot be installed beside joblib 1.6 (``cloudpickle>=3``).
"""

"""The experiment engine: one run, replicates, comparisons, sweeps, sensitivity analysis.

``runner`` (one simulated run and its folder), ``replicates`` (seeds and parallel replicates),
``compare`` (paired scenario comparisons), ``sweep`` and ``design`` (Hydra multiruns and their
sampling plans), ``hooks`` (what a sweep runs per point), ``collect`` (a sweep's runs as one
table), ``sensitivity`` (Morris and Sobol indices), ``store`` (the one result store: atomic
writes, locks, clean-up, the "finished" test).

May import: ``peerwell.scenarios.catalogue``, ``.config``, ``.hydra_guard``,
``peerwell.analysis``, ``peerwell.simulation``. Never prints or exits: it raises
:class:`peerwell.simulation.errors.PeerwellError`.
"""

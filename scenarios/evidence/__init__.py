"""What the model answers to: empirical anchors, parameter sources, calibration, classic models.

``anchors`` (the empirical targets, typed once), ``calibrate`` (fit to them), ``classic`` (the
kernels reduced to the classic models and to closed forms), ``paramdoc`` (each parameter's
meaning, default and source, rendered for the ODD and ``peerwell params``).

May import: ``peerwell.scenarios.experiments`` (to run replicates), ``.catalogue``, ``.config``,
``peerwell.analysis``, ``peerwell.simulation``. Never prints or exits.
"""

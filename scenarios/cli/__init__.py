"""The ``peerwell`` command: parse, call the engine, print, exit.

The only code that prints to the terminal or calls ``sys.exit``: the rooms below raise
:class:`peerwell.simulation.errors.PeerwellError` and this room turns it into one
``peerwell: error:`` line. ``core`` is the entry point and the ``run`` command; each other module
holds the commands of one room (``compare``, ``sweep``/``collect``/``sensitivity``,
``validate``/``calibrate``, ``dashboard``, ``params``, ``bench``).

May import: every other room of ``peerwell.scenarios``, ``peerwell.analysis``,
``peerwell.simulation``. Nothing imports it but ``peerwell.cli`` (the console script).
Command modules load on first use (see the lazy-import section of ``docs/architecture.md``).
"""

"""The Solara dashboard (`peerwell dashboard`): Explore, Compare and Classroom pages.

``live`` holds one browser session's model and what the pages draw from it (pure Python, testable
without a browser); ``controls`` builds input widgets from the typed parameter metadata;
``explore``, ``compare_page`` and ``classroom`` are the pages; ``app`` wires them into routes.

May import: ``peerwell.scenarios.evidence``, ``.experiments``, ``.catalogue``, ``.config``,
``peerwell.analysis``, ``peerwell.simulation``. Only ``peerwell.scenarios.cli`` imports it.
"""

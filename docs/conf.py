"""Sphinx configuration of peerwell's documentation (``make docs``).

Built with warnings as errors (``-W --keep-going``) and ``nitpicky``: a broken internal link,
reference or cross-reference fails the build. The tutorials are MyST notebooks executed at every
build (``nb_execution_mode = "force"``); a cell that raises fails the build. No network access is
needed: no intersphinx, and the theme's assets are in the furo package.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import peerwell  # noqa: E402

project = "peerwell"
author = "the peerwell developers"
copyright = "2026, the peerwell developers"
release = peerwell.__version__
version = release

extensions = [
    "myst_nb",  # MyST Markdown and executable MyST notebooks (includes myst_parser)
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "peerwell_docs",  # pages generated from the code: docs/_ext/peerwell_docs.py
]

root_doc = "index"
# outputs/: what the tutorials write when they run (result stores, reports).
exclude_patterns = ["_build", "_ext", "**/outputs", "**/.ipynb_checkpoints", "Thumbs.db"]
source_suffix = {".md": "myst-nb", ".rst": "restructuredtext"}

# --- strictness ----------------------------------------------------------------------------
nitpicky = True
# Without intersphinx (the build is offline) nothing outside peerwell can be resolved; every
# reference to a peerwell object must resolve.
nitpick_ignore_regex = [(r"py:.*", r"(?!peerwell\b).*")]
# Internal classes that public signatures mention (the parameter groups of ModelParams, the
# state arrays): named one by one, so that any other unresolved peerwell reference still fails.
from peerwell.simulation import params as _params  # noqa: E402

nitpick_ignore = [
    ("py:class", f"peerwell.simulation.params.{cls.__name__}")
    for cls in (*_params.GROUPS.values(), _params.ScenarioInfo)
] + [
    ("py:class", "peerwell.simulation.state.State"),
    ("py:class", "peerwell.simulation.network.CSRGraph"),  # the reference model's input ties
]
# ODD.md's generated parameter tables sit at H4 under an H2 (a style check, not a broken link).
suppress_warnings = ["myst.header"]

# --- MyST ----------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath", "amsmath"]
myst_heading_anchors = 3
myst_links_external_new_tab = False

# --- notebooks (the tutorials) -------------------------------------------------------------
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 600
nb_merge_streams = True
nb_execution_allow_errors = False

# --- API reference -------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_type_aliases = {"Overrides": "peerwell.Overrides"}
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True
napoleon_use_rtype = False

# --- HTML ----------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"peerwell {release}"
html_static_path = ["_static"]
html_css_files = ["peerwell.css"]
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None

"""Sphinx configuration: MyST Markdown pages and the API from the numpydoc docstrings.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (CI runs it with ``-W``: a
warning fails the build). Links into PyNN, NEST, Neo, Elephant and NumPy (intersphinx) need
their inventories from the web; set ``PYNN_MICROCIRCUIT_DOCS_ONLINE=1`` to use them (the CI
machine has no internet beyond the package registries, so they are off by default).
"""

import os

project = "pynn-microcircuit"
author = "the pynn-microcircuit developers"
copyright = "2026, the pynn-microcircuit developers"  # noqa: A001 - Sphinx's name

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# simulators are optional at documentation time; their modules import them lazily anyway
autodoc_mock_imports = ["nest", "pyNN", "spynnaker", "neuron", "nmpi", "spalloc_client"]
suppress_warnings = ["myst.xref_missing"]  # pages link to repository files (code, scripts)

intersphinx_mapping = {}
if os.environ.get("PYNN_MICROCIRCUIT_DOCS_ONLINE"):
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "pynn": ("https://neuralensemble.org/docs/PyNN", None),
        "nest": ("https://nest-simulator.readthedocs.io/en/stable", None),
        "neo": ("https://neo.readthedocs.io/en/latest", None),
        "elephant": ("https://elephant.readthedocs.io/en/latest", None),
    }

html_theme = "alabaster"
html_title = "pynn-microcircuit"

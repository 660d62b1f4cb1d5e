"""Sphinx configuration of the course website. Build it with ``make site`` (website/build_site.py),
which stages the pages and sets the mode; see the README's "Course website" section.

The build runs ``python -m sphinx -c website ...`` from the repository root, so the packages there
(``website``, ``release``) are importable; Sphinx itself adds nothing to ``sys.path``.

Why Sphinx + myst-nb + sphinx-book-theme (Jupyter Book 1's stack): every piece installs from
pip and nothing is downloaded while building; notebooks execute through jupyter-cache, so only
changed notebooks run again; the theme brings Colab/Binder/download buttons; search is Sphinx's
offline JavaScript index.
"""

from __future__ import annotations

from course_lib.config import RunMode
from release.colab import Repo
from website import course_site

MODE = RunMode.from_env().name  # COURSE_FAST, read as the notebooks read it
REPO = Repo.load()

project = "Introduction to Deep Learning"
author = 'The "Introduction to Deep Learning" course authors'
copyright = f"2026, {author}"  # as in LICENSE
extensions = ["myst_nb", "website.course_site"]
course_site_mode = MODE
root_doc = "index"
# Read by the include directives and the landing page only, not pages of their own.
exclude_patterns = ["README.md", "results/README.md", "_assets", "_extra", "**/.ipynb_checkpoints"]

# --- MyST: the notebooks' $...$ math; GitHub-style anchors so README.md#section links work ---
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# --- notebooks: executed through jupyter-cache, one cache per mode ---------------------------
nb_execution_mode = "cache"
nb_execution_cache_path = str(course_site.cache_dir(MODE))
nb_execution_timeout = course_site.CELL_TIMEOUT_S[MODE]
nb_execution_raise_on_error = True  # a failing notebook fails the build, never ships half-empty
nb_execution_show_tb = True
nb_merge_streams = True
nb_scroll_outputs = True
nb_ipywidgets_js = {}  # its default loads require.js and the widget manager from CDNs

# --- HTML: everything a page loads comes from the site itself --------------------------------
html_theme = "sphinx_book_theme"
html_title = "Introduction to Deep Learning"
html_static_path = ["_static"]
html_css_files = ["course-site.css"]
# Search snippets from the page's own text, without the theme's buttons or cell outputs
# (Sphinx takes them from the whole <main>); see the file.
html_js_files = ["course-search.js"]
html_sourcelink_suffix = ""  # _sources/notebooks/NN.ipynb is the download, not NN.ipynb.txt
mathjax_path = "mathjax/tex-mml-chtml.js"  # staged into _static by website/build_site.py, no CDN
html_theme_options = {
    "repository_url": REPO.url,
    "repository_branch": REPO.ref,  # the tag the Colab links and README badges use
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {
        "notebook_interface": "jupyterlab",
        "binderhub_url": "https://mybinder.org",
        "colab_url": "https://colab.research.google.com",
    },
    "home_page_in_toc": True,
    # One search box: the primary sidebar's (a magnifier in the article header where the sidebar
    # is folded away). pydata-sphinx-theme adds a second to a header row of its own unless this
    # is set, and with it empty that row is not drawn.
    "navbar_persistent": [],
    "show_navbar_depth": 1,
    "announcement": course_site.FAST_BANNER if MODE == "fast" else "",
}

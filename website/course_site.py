"""The course website's Sphinx extension, and the small pieces it is made of.

``website/conf.py`` loads this module as an extension (``website.course_site``);
``website/build_site.py`` (``make site``) stages the sources and runs Sphinx. What the extension does while Sphinx reads the pages:

- every notebook gets a hidden first cell that records when, on what machine and in which mode
  it ran (``course_lib.environment.run_stamp``); its output is cached with the others, so the
  page states the real execution, not the build;
- the Colab badge (an image from colab.research.google.com) becomes plain text links to Colab,
  Binder and the notebook file: a page must load nothing from the network;
- solution cells are folded behind "Show solution";
- the landing page gets the notebooks in teaching order, the slides page the list of decks;
- links to repository files that are not pages of the site (``LICENSE``, ``benchmarks/``)
  point at the file on GitHub, at the tag the Colab links use;
- a notebook page whose stamp is missing or names another mode than the build stops the build:
  fast-mode outputs must never pass for results.

Example
-------
>>> cache_dir("fast", Path("/repo")).as_posix()
'/repo/build/site-cache/fast'
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import nbformat

from course_lib.config import RunMode
from release.colab import BADGE_LINE, Repo, learn_summary, title_of

ROOT = Path(__file__).resolve().parents[1]
MODES = ("fast", "full")
# Per cell, like nbval's --nbval-cell-timeout in fast mode; in full mode the longest cell
# (notebook 10's 4000-neuron start) runs about 15 minutes on 2 cores, so allow four times that.
CELL_TIMEOUT_S = {"fast": 900, "full": 3600}
STAMP_TAG = "course-run"
SOLUTION_TAG = "solution"
NOTEBOOKS_MARK = "<!-- site:notebooks -->"
SLIDES_MARK = "<!-- site:slides -->"
STAMP_SOURCE = (
    "# Added by the course website build (website/course_site.py), not part of the notebook:\n"
    "# when, on what machine and in which mode the outputs below were computed.\n"
    "from course_lib.config import RunMode\n"
    "from course_lib.environment import run_stamp\n"
    "\n"
    "run_stamp(RunMode.from_env().name)"
)
FAST_BANNER = (
    "<strong>Fast-mode outputs: numbers are not results.</strong> "
    "This site was built with <code>COURSE_FAST=1</code> (small subsets, one to three epochs) "
    "to test the build; a full-mode build (<code>make site COURSE_FAST=0</code>) shows what the "
    "course measures."
)
STAMP_MODE = re.compile(r"\bin \**(fast|full) mode\b")


def notebook_as_read(path: Path) -> nbformat.NotebookNode:
    """The notebook as Sphinx reads it for its page: what the site executes and caches."""
    text = site_notebook(path.read_text(encoding="utf-8"), path.name, Repo.load())
    return nbformat.reads(text, as_version=4)


def cache_dir(mode: str, root: Path = ROOT) -> Path:
    """The jupyter-cache of one mode: fast and full outputs never share a cache."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return root / "build" / "site-cache" / mode


def github_url(repo: Repo, path: str, is_dir: bool = False) -> str:
    """The file (or folder) ``path`` on GitHub at the tag the Colab links use.

    >>> github_url(Repo("https://github.com/o/r", "v1"), "LICENSE")
    'https://github.com/o/r/blob/v1/LICENSE'
    """
    return f"{repo.url}/{'tree' if is_dir else 'blob'}/{repo.ref}/{path.strip('/')}"


def launch_links(repo: Repo, name: str) -> str:
    """Markdown for the notebook page's launch line: Colab, Binder, the notebook file.

    The download is the notebook as committed (no outputs), which Sphinx copies to ``_sources``.
    """
    download = f'<a href="../_sources/{repo.notebooks}/{name}" download>Download the notebook</a>'
    return (f"[Open in Colab]({repo.colab(name)}) · [Launch on Binder]({repo.binder(name)}) · "
            f"{download}")


def site_notebook(text: str, name: str, repo: Repo) -> str:
    """The notebook as the website shows it (see the module docstring); JSON in, JSON out.

    The cells added here are the same on every build, so the cache recognises the notebook.
    """
    nb = nbformat.reads(text, as_version=4)
    title_of(nb)  # the first cell is the '# NN · Title' markdown cell; raises otherwise
    first = nb.cells[0]
    source = BADGE_LINE.sub("", first.source)
    heading, _, rest = source.partition("\n")
    first.source = f"{heading}\n\n{launch_links(repo, name)}\n\n{rest.lstrip(chr(10))}".rstrip()
    for cell in nb.cells:
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            cell.metadata.setdefault("tags", []).append("hide-cell")
            cell.metadata["mystnb"] = {"code_prompt_show": "Show solution",
                                       "code_prompt_hide": "Hide solution"}
    stamp = nbformat.v4.new_code_cell(STAMP_SOURCE)
    stamp.id = STAMP_TAG
    stamp.metadata = {"tags": ["remove-input", STAMP_TAG]}
    setup = [i for i, c in enumerate(nb.cells) if "colab-setup" in c.metadata.get("tags", [])]
    nb.cells.insert(setup[0] + 1 if setup else 1, stamp)  # after `import course_lib`
    return nbformat.writes(nb)


def notebook_table(paths: Iterable[Path]) -> str:
    """The course arc for the landing page: number, linked title, what you learn."""
    rows = ["| # | notebook | what you learn |", "|---|---|---|"]
    for path in sorted(paths):
        nb = nbformat.read(path, as_version=4)
        number, title = title_of(nb)
        rows.append(f"| {number} | [{title}](notebooks/{path.name}) | {learn_summary(nb)} |")
    return "\n".join(rows)


def slides_list(decks: Iterable[tuple[str, str, int]]) -> str:
    """HTML list of the decks, ``(file stem, title, number of slides)`` each.

    Raw HTML because the decks are not Sphinx pages: they are copied in as built.

    >>> slides_list([("01_ml", "Machine learning", 12)])
    '<ul class="course-decks">\\n<li><a href="slides/01_ml.html">Machine learning</a> (12 slides)</li>\\n</ul>'
    """
    items = [f'<li><a href="slides/{stem}.html">{html.escape(title)}</a> ({n} slides)</li>'
             for stem, title, n in decks]
    return "\n".join(['<ul class="course-decks">', *items, "</ul>"])


def repository_target(target: str, docname: str, found_docs: set[str], root: Path = ROOT
                      ) -> tuple[str, bool] | None:
    """Where a relative link that is not a page of the site points in the repository.

    Returns ``(path, is_folder)`` for a file or folder of the repository that the site does not
    have as a page, else None (a page, an anchor, a URL, or nothing at all: left to Sphinx,
    which warns about the last).

    >>> repository_target("LICENSE", "index", {"index"})
    ('LICENSE', False)
    >>> repository_target("notebooks/00_setup_and_environment.ipynb", "index",
    ...                   {"notebooks/00_setup_and_environment"}) is None
    True
    """
    path = target.split("#", 1)[0]
    if not path or re.match(r"^[a-z][a-z0-9+.-]*:", path) or path.startswith("/"):
        return None
    joined = PurePosixPath(docname).parent / path
    parts: list[str] = []
    for part in joined.parts:  # normalise ../ without touching the file system
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part != ".":
            parts.append(part)
    rel = "/".join(parts)
    stem = re.sub(r"\.(md|ipynb)$", "", rel)
    if stem in found_docs or rel in found_docs:
        return None
    full = root / rel
    if not rel or not (full.is_file() or full.is_dir()):
        return None
    return rel, full.is_dir()


def stamp_mode(text: str) -> str | None:
    """The mode a run stamp names (``"fast"``/``"full"``), None when there is no stamp.

    >>> stamp_mode("Executed 2026-11-22 14:03 UTC in full mode on Intel Xeon, 2 cores")
    'full'
    """
    match = STAMP_MODE.search(text)
    return match.group(1) if match else None


# --- Sphinx ---------------------------------------------------------------------------------


def _on_source_read(app, docname: str, source: list[str]) -> None:
    text = source[0]
    if docname.startswith("notebooks/") and app.env.doc2path(docname).suffix == ".ipynb":
        source[0] = site_notebook(text, PurePosixPath(docname).name + ".ipynb", Repo.load())
    if NOTEBOOKS_MARK in text:
        source[0] = text.replace(NOTEBOOKS_MARK, notebook_table(
            (Path(app.srcdir) / "notebooks").glob("[0-9]*.ipynb")))
    if SLIDES_MARK in text:
        from slides import build_slides

        decks = [build_slides.parse_deck(p) for p in build_slides.find_decks()]
        source[0] = text.replace(SLIDES_MARK, slides_list(
            (d.name, d.title, d.n_slides) for d in decks))


def _on_doctree_read(app, doctree) -> None:
    from docutils import nodes
    from sphinx import addnodes

    env = app.env
    repo = Repo.load()
    for node in list(doctree.findall(addnodes.pending_xref)):
        if node.get("reftype") != "myst":
            continue
        found = repository_target(node["reftarget"], env.docname, env.found_docs)
        if found is None:
            continue
        path, is_dir = found
        link = nodes.reference("", "", refuri=github_url(repo, path, is_dir), internal=False)
        link += node.children or [nodes.literal(path, path)]
        node.replace_self(link)
    if env.docname.startswith("notebooks/") and app.config.nb_execution_mode != "off":
        _check_stamp(app, doctree)  # (execution off: a draft of the pages, no outputs to check)


def _check_stamp(app, doctree) -> None:
    """Stop the build when a notebook page's outputs come from another mode (or from nowhere)."""
    from docutils import nodes
    from sphinx.errors import ExtensionError

    cells = [n for n in doctree.findall(nodes.container) if f"tag_{STAMP_TAG}" in n["classes"]]
    text = " ".join(c.astext() for c in cells)
    found = stamp_mode(text)
    expected = app.config.course_site_mode
    if found != expected:
        raise ExtensionError(
            f"{app.env.docname}: the page's outputs were executed in {found or 'no known'} mode, "
            f"but this is a {expected}-mode build (stamp: {text.strip()[:200]!r}); "
            f"clear {app.config.nb_execution_cache_path} and build again."
        )
    # Show the stamp right under the launch links, where a reader looks first.
    links = next((p for p in doctree.findall(nodes.paragraph)
                  if p.astext().startswith("Open in Colab")), None)
    if links is not None:
        stamp = cells[0]
        stamp.parent.remove(stamp)
        links.parent.insert(links.parent.index(links) + 1, stamp)


def _on_config_inited(app, config) -> None:
    """Assets the build stages next to the sources: MathJax (``_assets``), the decks (``_extra``)."""
    src = Path(app.srcdir)
    for folder, option in (("_assets", "html_static_path"), ("_extra", "html_extra_path")):
        if (src / folder).is_dir():
            getattr(config, option).append(str(src / folder))


def setup(app) -> dict:
    app.add_config_value("course_site_mode", RunMode.from_env().name, "env")
    app.connect("config-inited", _on_config_inited)
    app.connect("source-read", _on_source_read)
    app.connect("doctree-read", _on_doctree_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

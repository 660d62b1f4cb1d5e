"""The course website's Sphinx extension, and the small pieces it is made of.

``website/conf.py`` loads this module as an extension (``website.course_site``);
``website/build_site.py`` (``make site``) stages the sources and runs Sphinx. What the extension does while Sphinx reads the pages:

- every notebook gets a hidden first cell that records when, on what machine and in which mode
  it ran (``course_lib.environment.run_stamp``); its output is cached with the others, so the
  page states the real execution, not the build;
- the Colab badge (an image from colab.research.google.com) becomes plain text links to Colab,
  Binder and the notebook file: a page must load nothing from the network;
- solution cells are folded behind "Show solution";
- the landing page gets the notebooks in teaching order with their class and run times and
  what each needs (from the schedule, ``release/schedule.py``), the slides page the list of decks;
- a results page shows its numbers first (its provenance line and method paragraph move below
  the first table) under a banner that says what the tables are: the course's full-mode
  measurements, each current or stale for today's code (``benchmarks/provenance.py``);
- output cells that hold a figure get the theme's ``full-width`` class, so a wide figure uses
  the right margin on a wide screen;
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

import functools
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
RESULTS_MARK = "<!-- site:results -->"
FAST_BANNER = (
    "<strong>Fast-mode outputs: numbers are not results.</strong> "
    '<span class="course-banner-detail">'
    "This site was built with <code>COURSE_FAST=1</code> (small subsets, one to three epochs) "
    "to test the build; a full-mode build (<code>make site COURSE_FAST=0</code>) shows what the "
    "course measures.</span>"
)
#: A results table's provenance line and its one-paragraph method (benchmarks/provenance.py).
PROVENANCE_TEXT = re.compile(r"^(Measured \d{4}-\d\d-\d\d .*)\n\n(\*\*Method\.\*\* .*?)(?:\n\n|\n?\Z)",
                             re.MULTILINE | re.DOTALL)
TABLE = re.compile(r"(?:^\|.*\|[ \t]*(?:\n|\Z))+", re.MULTILINE)
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


def needs(entry) -> str:
    """What a notebook needs, from its schedule entry (``release.schedule.Notebook``): the
    notebooks to do first and the memory its kernel peaked at (full mode where measured).

    >>> from types import SimpleNamespace as NS
    >>> needs(NS(prerequisites=("02", "03"), runs={"fast": NS(peak_gib=1.29)}))
    'notebooks 02, 03; 1.3 GiB RAM (fast mode)'
    >>> needs(NS(prerequisites=(), runs={"full": NS(peak_gib=3.84)}))
    'nothing before it; 3.8 GiB RAM'
    """
    before = entry.prerequisites
    text = (f"notebook{'s' if len(before) > 1 else ''} {', '.join(before)}" if before
            else "nothing before it")
    mode = next((m for m in ("full", "fast") if m in entry.runs), None)
    if mode is not None:
        text += f"; {entry.runs[mode].peak_gib:.1f} GiB RAM" + (" (fast mode)" if mode == "fast" else "")
    return text


def notebook_table(paths: Iterable[Path], sched=None) -> str:
    """The course arc for the landing page: number, linked title, what you learn, and from the
    schedule (``release.schedule.Schedule``, loaded when not given) the class time, the run
    times and what each notebook needs."""
    from release import schedule

    sched = sched or schedule.Schedule.load()
    rows = ["| # | notebook | what you learn | class time: teach + exercises | "
            "run time: fast / full | needs |", "|---|---|---|---|---|---|"]
    for path in sorted(paths):
        nb = nbformat.read(path, as_version=4)
        number, title = title_of(nb)
        if number not in sched.notebooks:
            raise ValueError(f"notebook {path.name} has no [notebooks.{number}] entry in "
                             f"release/course.toml; add one (release/schedule.py says what it holds)")
        _, class_time, run_time = schedule.readme_cells(sched, number)
        rows.append(f"| {number} | [{title}](notebooks/{path.name}) | {learn_summary(nb)} | "
                    f"{class_time} | {run_time} | {needs(sched.notebooks[number])} |")
    return "\n".join(rows)


def numbers_first(text: str) -> str:
    r"""A results table's Markdown with its provenance line and method paragraph moved below its
    first table, so the page opens with the numbers (unchanged when it has no table or no
    method).

    >>> page = "# T\n\nMeasured 2026-12-02 at commit abc.\n\n**Method.** Three seeds.\n\n| a |\n|---|\n| 1 |\n\nNotes."
    >>> print(numbers_first(page))
    # T
    <BLANKLINE>
    | a |
    |---|
    | 1 |
    <BLANKLINE>
    **How it was measured.** Measured 2026-12-02 at commit abc.
    <BLANKLINE>
    **Method.** Three seeds.
    <BLANKLINE>
    Notes.
    """
    found = PROVENANCE_TEXT.search(text)
    if found is None:
        return text
    rest = text[:found.start()] + text[found.end():]
    table = TABLE.search(rest, found.start())
    if table is None:
        return text
    block = f"**How it was measured.** {found.group(1)}\n\n{found.group(2).strip()}"
    head, tail = rest[:table.end()].rstrip("\n"), rest[table.end():].lstrip("\n")
    return f"{head}\n\n{block}\n" + (f"\n{tail}" if tail else "")


def provenance_module():
    """``benchmarks/provenance.py``, loaded by path: ``benchmarks`` is a folder of scripts."""
    import importlib.util
    import sys

    if "provenance" in sys.modules:
        return sys.modules["provenance"]
    spec = importlib.util.spec_from_file_location("provenance", ROOT / "benchmarks" / "provenance.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["provenance"] = module  # its dataclasses and doctests look themselves up
    spec.loader.exec_module(module)
    return module


def results_status(root: Path = ROOT) -> dict[str, dict]:
    """``benchmarks/provenance.py``'s status of every results table, by page name
    (``results/mnist_results``), with the date and machine of its measurement; Markdown tables
    only, the pages of the site."""
    prov = provenance_module()
    out = {}
    for row in prov.status(root):
        if not row["file"].endswith(".md"):
            continue
        try:
            found = prov.read_provenance(root / row["file"]) or {}
        except ValueError:
            found = {}
        machine = found.get("machine")
        out[row["file"][:-3]] = dict(row, date=str(found.get("date", "-"))[:10],
                                     machine=prov.machine_summary(machine).split(",")[0]
                                     if isinstance(machine, dict) else "-")
    return out


def results_banner(page: str, status: dict[str, dict]) -> str:
    """The banner of a results page: what its numbers are, and whether today's code still
    matches them. ``page`` is ``results`` (the index) or ``results/NAME``.

    >>> row = {"state": "STALE (code changed)", "changed": ["course_lib/models.py"]}
    >>> print(results_banner("results/x", {"results/x": row}))
    <span class="course-banner-stale"><strong>Stale: full-mode measurement of older code.</strong> <span class="course-banner-detail">The code it measures has changed since (course_lib/models.py), so its numbers may not hold for today's code; <a href="../results.html#how-the-tables-are-made">the command that measures it again</a> is on the Results page.</span></span>
    >>> "2 of 2 tables" in results_banner("results", {"results/x": {"state": "current"}, "results/y": {"state": "current"}})
    True
    """
    current = "current"  # benchmarks/provenance.py's CURRENT
    if page == "results":
        fresh = sum(r["state"] == current for r in status.values())
        return ('<span class="course-banner-results"><strong>Full-mode measurements: the course\'s '
                'results.</strong> <span class="course-banner-detail">Each table was measured by a '
                f"script in <code>benchmarks/</code>, not by this site's build; {fresh} of "
                f"{len(status)} tables match today's code, the others are marked stale.</span></span>")
    row = status.get(page)
    if row is None or row["state"] != current and not row["state"].startswith("STALE"):
        return ('<span class="course-banner-stale"><strong>Measurement without provenance.</strong> '
                '<span class="course-banner-detail">This table does not record the code it measured, '
                "so whether it still holds is not known.</span></span>")
    if row["state"] == current:
        return ('<span class="course-banner-results"><strong>Full-mode measurement: the course\'s '
                'result, current.</strong> <span class="course-banner-detail">Measured by a script in '
                "<code>benchmarks/</code> (below: when, on what machine, how), and the code it "
                "measures has not changed since.</span></span>")
    changed = row.get("changed") or []
    files = f" ({', '.join(changed[:4])}{' ...' if len(changed) > 4 else ''})" if changed else ""
    return ('<span class="course-banner-stale"><strong>Stale: full-mode measurement of older code.'
            '</strong> <span class="course-banner-detail">The code it measures has changed since'
            f"{html.escape(files)}, so its numbers may not hold for today's code; "
            '<a href="../results.html#how-the-tables-are-made">the command that measures it '
            "again</a> is on the Results page.</span></span>")


def results_list(status: dict[str, dict], titles: dict[str, str]) -> str:
    """Markdown table of the results pages: each linked by its title, when and where it was
    measured, and whether it is current for today's code.

    >>> print(results_list({"results/x": {"state": "current", "date": "2026-12-02", "machine": "AMD EPYC"}},
    ...                    {"results/x": "X"}))
    | table | measured | for today's code |
    |---|---|---|
    | [X](results/x.md) | 2026-12-02, AMD EPYC | current |
    """
    rows = ["| table | measured | for today's code |", "|---|---|---|"]
    for page in sorted(status):
        row = status[page]
        state = "current" if row["state"] == "current" else f"**{row['state']}**"
        rows.append(f"| [{titles.get(page, page)}]({page}.md) | {row.get('date', '-')}, "
                    f"{row.get('machine', '-')} | {state} |")
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
    if docname.startswith("results/") and docname != "results/README":
        source[0] = numbers_first(source[0])
    if RESULTS_MARK in text:
        folder = Path(app.srcdir) / "results"
        titles = {f"results/{p.stem}": p.read_text(encoding="utf-8").partition("\n")[0].lstrip("# ").strip()
                  for p in folder.glob("*.md")}
        source[0] = source[0].replace(RESULTS_MARK, results_list(_status(app), titles))


def _status(app) -> dict[str, dict]:
    """The results tables' status, computed once per build (it reads git)."""
    return _status_of_build(str(app.outdir), id(app))


@functools.lru_cache(maxsize=1)
def _status_of_build(outdir: str, build: int) -> dict[str, dict]:
    return results_status()


def _on_page_context(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    """A results page states what its numbers are, in place of the fast-mode banner."""
    if pagename == "results" or (pagename.startswith("results/") and pagename != "results/README"):
        context["theme_announcement"] = results_banner(pagename, _status(app))


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
    if env.docname.startswith("notebooks/"):
        for box in doctree.findall(nodes.container):
            # A figure may use the right margin on a wide screen: the theme widens full-width
            # containers there and folds the page's table of contents away while one is in view.
            if "cell_output" in box["classes"] and any(True for _ in box.findall(nodes.image)):
                box["classes"].append("full-width")
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
    app.connect("html-page-context", _on_page_context)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""The course website: its helpers, its build, and every page in a real headless Chromium.

Which site is checked:

- ``COURSE_SITE_DIR=build/site`` (what CI sets after ``make site``): that build, as it is;
- otherwise the test builds one in fast mode into a temporary folder. Notebooks execute through
  the shared fast-mode cache (``build/site-cache/fast``), so after a ``make site`` only the
  pages are rebuilt (about 30 s); on a cold cache every notebook runs once in fast mode.

The browser test serves the site on a loopback port, opens every page in Chromium with every
request outside the site refused, and checks: no page asks for the network, no request fails,
every notebook page shows its figures, loaded and at least 300 px wide (or at their natural
width), and its run stamp (and the fast-mode banner in a fast-mode build; results pages carry
their own), links inside the site lead to files and anchors that exist, the Colab and Binder
buttons point at the notebook, each page has one search box, each deck a visible link back to
the site, and search finds the dropout notebook for "dropout" with snippets free of the theme's
button labels and of cell outputs.
Chromium must be installed already; without one the test is skipped with a one-line instruction.
Without a browser, the built pages are also read as files: every notebook page shows its decks
and its class and run times from the schedule (``release/course.toml``), the landing page a
picture and each notebook's times and needs, each results page its first table before its
method under a banner that says whether the table is current (``benchmarks/provenance.py``),
and each deck links back to the site.
"""

from __future__ import annotations

import doctest
import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from helpers import browser
from release import schedule
from release.colab import Repo, title_of
from website import build_site, course_site

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
SITE_ENV = "COURSE_SITE_DIR"
BUILD_TIMEOUT_S = 3600  # a cold cache runs all twelve notebooks (about 15 minutes on 2 busy cores)
# Notebooks that draw no figure; every other notebook page must show at least one.
FIGURELESS: set[str] = set()
BANNER = "Fast-mode outputs: numbers are not results"


# --- the helpers, without building -----------------------------------------------------------


def test_helper_examples():
    result = doctest.testmod(course_site, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 6 and result.failed == 0
    result = doctest.testmod(build_site, optionflags=doctest.ELLIPSIS)  # paths kept off the pages
    assert result.attempted >= 3 and result.failed == 0


def test_each_mode_has_its_own_cache_and_a_bad_mode_is_named():
    assert course_site.cache_dir("fast") != course_site.cache_dir("full")
    assert course_site.cache_dir("full").is_relative_to(ROOT / "build")
    with pytest.raises(ValueError, match="'quick'"):
        course_site.cache_dir("quick")
    with pytest.raises(ValueError, match="'quick'"):
        build_site.build(mode="quick")


def test_site_notebook_adds_the_stamp_links_and_folds_solutions():
    repo = Repo.load()
    path = ROOT / "notebooks" / "05_overfitting_and_dropout.ipynb"
    text = path.read_text(encoding="utf-8")
    shown = course_site.site_notebook(text, path.name, repo)
    assert shown == course_site.site_notebook(text, path.name, repo), "not deterministic: no cache hits"
    nb = nbformat.reads(shown, as_version=4)
    first = nb.cells[0].source
    assert "colab-badge.svg" not in first, "the badge image would load from the network"
    assert repo.colab(path.name) in first and repo.binder(path.name) in first
    assert f'href="../_sources/notebooks/{path.name}"' in first
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    setup = next(i for i, t in enumerate(tags) if "colab-setup" in t)
    stamp = nb.cells[setup + 1]
    assert course_site.STAMP_TAG in stamp.metadata["tags"] and "remove-input" in stamp.metadata["tags"]
    assert "run_stamp(RunMode.from_env().name)" in stamp.source
    solutions = [c for c, t in zip(nb.cells, tags, strict=True) if "solution" in t]
    assert solutions and all("hide-cell" in c.metadata["tags"] for c in solutions)
    # The notebook itself is untouched: the site changes only its own copy.
    assert path.read_text(encoding="utf-8") == text


def test_site_notebook_refuses_a_notebook_without_a_title():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("no title here")])
    with pytest.raises(ValueError, match="no title here"):
        course_site.site_notebook(nbformat.writes(nb), "x.ipynb", Repo.load())


def test_links_to_repository_files_go_to_github_and_pages_stay_pages():
    docs = {"index", "notebooks/05_overfitting_and_dropout", "jobs/README"}
    target = course_site.repository_target
    assert target("benchmarks/", "index", docs) == ("benchmarks", True)
    assert target("../release/colab.py", "notebooks/05_overfitting_and_dropout", docs) == (
        "release/colab.py", False)
    assert target("README.md#data-and-offline-use", "setup", docs) == ("README.md", False)
    assert target("jobs/README.md", "index", docs) is None
    assert target("../jobs/README.md#x", "notebooks/05_overfitting_and_dropout", docs) is None
    assert target("05_overfitting_and_dropout.ipynb", "notebooks/x", docs) is None
    assert target("https://keras.io", "index", docs) is None
    assert target("#local", "index", docs) is None
    assert target("no/such/file.md", "index", docs) is None  # left to Sphinx, which warns
    assert target("../../etc/passwd", "index", docs) is None


def test_run_stamp_names_its_mode():
    from course_lib.environment import run_stamp

    for mode in ("fast", "full"):
        stamp = run_stamp(mode)
        assert course_site.stamp_mode(str(stamp)) == mode
        assert course_site.stamp_mode(stamp._repr_markdown_()) == mode
        assert ("numbers are not results" in str(stamp)) == (mode == "fast")
    assert course_site.stamp_mode("no stamp") is None


@pytest.mark.parametrize("mode", course_site.MODES)
def test_configuration_loads_nothing_from_the_network(mode, monkeypatch):
    import runpy

    monkeypatch.setenv("COURSE_FAST", "1" if mode == "fast" else "0")
    conf = runpy.run_path(str(ROOT / "website" / "conf.py"))
    assert conf["nb_execution_cache_path"] == str(course_site.cache_dir(mode))
    assert conf["nb_execution_mode"] == "cache" and conf["nb_execution_raise_on_error"] is True
    assert not re.match(r"^[a-z]+:", conf["mathjax_path"]), "MathJax must come from _static"
    assert conf["nb_ipywidgets_js"] == {}
    banner = conf["html_theme_options"]["announcement"]
    assert (BANNER in banner) == (mode == "fast")
    # One search box: pydata-sphinx-theme draws a second, in a header row, unless this is set.
    assert conf["html_theme_options"]["navbar_persistent"] == []
    assert "course-search.js" in conf["html_js_files"]  # search snippets without the theme's UI


def test_results_pages_put_numbers_first_and_name_stale_tables():
    """The page a results table becomes: numbers first, banner from benchmarks/provenance.py."""
    text = (ROOT / "results" / "mnist_results.md").read_text(encoding="utf-8")
    shown = course_site.numbers_first(text)
    assert shown.index("\n| model |") < shown.index("**Method.**") < shown.index("Targets not met")
    assert sorted(shown.splitlines()) == sorted(
        (text.replace("Measured 20", "**How it was measured.** Measured 20")).splitlines())
    status = course_site.results_status()
    assert set(status) == {f"results/{p.stem}" for p in (ROOT / "results").glob("*.md")
                           if p.stem != "README"}
    for page, row in status.items():
        banner = course_site.results_banner(page, status)
        assert BANNER not in banner
        assert ("Stale" in banner) == row["state"].startswith("STALE"), (page, row["state"])
        assert "Full-mode measurement" in banner or "Stale" in banner, banner
    index = course_site.results_banner("results", status)
    current = sum(r["state"] == "current" for r in status.values())
    assert f"{current} of {len(status)} tables" in index and "Full-mode measurements" in index


def test_out_folder_that_is_not_a_site_build_is_never_deleted(tmp_path):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("months of work")
    with pytest.raises(RuntimeError, match="not an earlier site build"):
        build_site.prepare_out(precious, build_site.BUILD_MARKER, "site build")
    assert (precious / "chapter1.tex").read_text() == "months of work"


def test_outputs_made_by_other_code_are_executed_again(tmp_path, monkeypatch):
    """jupyter-cache matches a notebook's own cells only; a record made with another course_lib
    (or builder) is run again, never shown as if today's code had made it."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 99 · A tiny notebook"),
                                         nbformat.v4.new_code_cell("print(6 * 7)")])
    path = tmp_path / "99_tiny.ipynb"
    nbformat.write(nb, path)
    monkeypatch.setattr(course_site, "cache_dir", lambda mode: tmp_path / "cache" / mode)
    env = dict(os.environ)
    assert build_site.execute_missing([path], "fast", env, workers=1) == 1
    assert build_site.execute_missing([path], "fast", env, workers=1) == 0  # today's code: reused
    monkeypatch.setattr(build_site, "OUTPUT_CODE", ["course_lib/__init__.py"])  # other code
    assert build_site.execute_missing([path], "fast", env, workers=1) == 1


def test_cluster_job_reaches_the_build_script():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "PBS_"))}
    env["COURSE_PYTHON"] = sys.executable  # jobs/lib/env.sh: this interpreter, not a guess
    for script in ("jobs/slurm/site_full.sh", "jobs/pbs/site_full.pbs"):
        done = subprocess.run(["bash", script, "--help"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "--mode" in done.stdout, f"{script} did not reach website/build_site.py"


# --- the built site ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A built site: ``COURSE_SITE_DIR``, or a fresh fast-mode build into a temporary folder."""
    given = os.environ.get(SITE_ENV)
    if given:
        path = Path(given)
        if not (path / build_site.INFO_FILE).is_file():
            pytest.fail(f"{SITE_ENV}={given} holds no site build ({build_site.INFO_FILE}); run `make site`")
        return path
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: the site build needs it (MathJax, the slides)")
    out = tmp_path_factory.mktemp("site") / "site"
    done = subprocess.run(
        [sys.executable, "-m", "website.build_site", "--mode", "fast", "--out", str(out)],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, cwd=ROOT,
    )
    assert done.returncode == 0, f"site build failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return out


def built_mode(site: Path) -> str:
    return json.loads((site / build_site.INFO_FILE).read_text(encoding="utf-8"))["mode"]


def site_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)


def test_site_has_every_page(site):
    pages = {p.relative_to(site).as_posix() for p in site_pages(site)}
    expected = {f"notebooks/{nb.stem}.html" for nb in NOTEBOOKS}
    expected |= {"index.html", "setup.html", "offline.html", "jobs/README.html", "instructors.html",
                 "results.html", "slides.html", "search.html"}
    expected |= {f"results/{p.stem}.html" for p in (ROOT / "results").glob("*.md") if p.stem != "README"}
    expected |= {f"slides/{p.stem}.html" for p in (ROOT / "slides").glob("[0-9]*.md")}
    assert expected <= pages, f"missing pages: {sorted(expected - pages)}"
    for nb in NOTEBOOKS:  # the download button's file: the notebook as committed, no outputs
        shipped = nbformat.read(site / "_sources" / "notebooks" / nb.name, as_version=4)
        assert title_of(shipped) == title_of(nbformat.read(nb, as_version=4))
        assert not any(c.get("outputs") for c in shipped.cells), f"{nb.name}: download has outputs"


def test_pages_refer_to_nothing_outside_the_site(site):
    """Static check of what a page loads (scripts, styles, images), before the browser's."""
    for page in site_pages(site):
        text = page.read_text(encoding="utf-8")
        loads = re.findall(r'<(?:script|img|link|iframe)\b[^>]*?\b(?:src|href)="([^"]+)"', text)
        external = [u for u in loads if re.match(r"^(https?:)?//", u)]
        assert not external, f"{page.relative_to(site)} loads {external}"


#: What TensorFlow prints while it starts (course_lib.quiet keeps it out of every output).
TF_STARTUP_LINES = ("absl::InitializeLog", "cudart_stub", "cuInit", "cpu_feature_guard",
                    "oneDNN custom operations", "Unable to register cu")
#: Paths of the machine that built the site, which no reader should see.
BUILD_PATHS = re.compile(r"(?<![\w.])(/tmp/|/var/folders/|/work/|/home/\w|/root/|/Users/\w)")


def test_no_page_shows_tensorflow_start_up_lines_or_build_machine_paths(site):
    noisy, paths = [], []
    for page in site_pages(site):
        text = re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8"))
        rel = page.relative_to(site).as_posix()
        noisy += [f"{rel}: {line!r}" for line in TF_STARTUP_LINES if line in text]
        paths += [f"{rel}: ...{text[max(0, m.start() - 60):m.end() + 40]!r}..." for m in BUILD_PATHS.finditer(text)]
    assert noisy == [], "TensorFlow's start-up lines on the site:\n" + "\n".join(noisy)
    assert paths == [], "paths of the build machine on the site:\n" + "\n".join(paths)


def test_every_notebook_page_shows_its_decks_and_times(site):
    """Static check of the built pages: each notebook page shows its line of the schedule
    (``release/schedule.py``): its decks, teaching and exercise minutes, fast and full run times."""
    sched = schedule.Schedule.load()
    missing = []
    for nb in NOTEBOOKS:
        page = (site / "notebooks" / f"{nb.stem}.html").read_text(encoding="utf-8")
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())  # the words a reader sees
        missing += [f"{nb.name}: {fact!r}" for fact in schedule.page_facts(sched, nb.name[:2])
                    if fact not in text]
    assert missing == [], "notebook pages without their decks and times:\n" + "\n".join(missing)


def article(page: Path) -> str:
    """The page's article (its own content, without the theme's navigation) as HTML."""
    text = page.read_text(encoding="utf-8")
    start = text.index('<article class="bd-article')
    return text[start:text.index("</article>", start)]


def words(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def announcement(page_html: str) -> str:
    """The words of the page's banner (the theme's announcement), "" when it has none."""
    found = re.search(r'<aside class="bd-header-announcement".*?</aside>', page_html, re.DOTALL)
    return words(found.group(0)) if found else ""


def test_landing_page_says_what_each_notebook_takes_and_shows_a_picture(site):
    index = article(site / "index.html")
    images = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', index)
    assert images, "the landing page has no picture"
    assert all((site / unquote(src)).is_file() for src in images), images
    head = words(index[:index.index("</thead>")]) if "</thead>" in index else ""
    for column in ("what you learn", "class time", "run time: fast / full", "needs"):
        assert column in head, f"landing table lacks the {column!r} column: {head!r}"
    sched = schedule.Schedule.load()
    text = words(index)
    for number, nb in sched.notebooks.items():
        _, class_time, run_time = schedule.readme_cells(sched, number)
        for fact in (class_time, run_time, course_site.needs(nb)):
            assert fact in text, f"landing page lacks notebook {number}'s {fact!r}"


def test_results_pages_open_with_numbers_under_the_right_banner(site):
    status = course_site.results_status()
    for page in sorted((site / "results").glob("*.html")):
        name = f"results/{page.stem}"
        body, full = article(page), page.read_text(encoding="utf-8")
        if "<table" in body and "Method." in body:
            assert body.index("<table") < body.index("Method."), f"{name}: method before the numbers"
        banner = announcement(full)
        assert BANNER not in banner, f"{name}: full-mode measurements labelled {BANNER!r}"
        assert ("Stale" in banner) == status[name]["state"].startswith("STALE"), f"{name}: {banner!r}"
    index = site / "results.html"
    body = article(index)
    assert "<table" in body and body.index("<table") < body.index("How the tables are made")
    assert "Full-mode measurements" in announcement(index.read_text(encoding="utf-8"))
    for name, row in status.items():
        link = f'href="{name}.html"'
        assert link in body, f"results page does not list {name}"
        row_html = body[body.index(link):body.index("</tr>", body.index(link))]
        assert ("STALE" in row_html) == row["state"].startswith("STALE"), row_html


def test_every_deck_links_back_to_the_site(site):
    decks = sorted((site / "slides").glob("*.html"))
    assert decks
    for deck in decks:
        links = re.findall(r'<a class="course-back" href="([^"]+)"', deck.read_text(encoding="utf-8"))
        assert links == ["../slides.html"], f"{deck.name}: back links {links}"
        assert (deck.parent / links[0]).resolve().is_file()


@pytest.fixture(scope="module")
def served(site):
    """The site on a loopback port, as any static web server would serve it."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def check_links(site: Path, base: str, page: str, hrefs: list[str]) -> list[str]:
    """The links of ``page`` into the site whose file or anchor does not exist."""
    broken = []
    for href in hrefs:
        if not href.startswith(base):
            continue
        parts = urlsplit(href)
        rel = unquote(parts.path)[len(urlsplit(base).path):]
        target = site / rel
        if rel == "" or rel.endswith("/"):
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"{page} -> {href}")
        elif parts.fragment and not parts.fragment.startswith("/") and target.suffix == ".html":
            # ("#/..." are reveal.js routes to slides, not anchors)
            if f'id="{unquote(parts.fragment)}"' not in target.read_text(encoding="utf-8"):
                broken.append(f"{page} -> {href} (no such anchor)")
    return broken


@pytest.mark.browser
@pytest.mark.slow
def test_every_page_works_offline_in_chromium(site, served, chromium):
    base, mode, repo = served, built_mode(site), Repo.load()
    broken: list[str] = []
    hidden: list[str] = []
    small: list[str] = []
    with browser.launch(chromium) as context:
        blocked = browser.block_outside(context, (base, "data:", "blob:", "about:"))
        page = context.new_page()
        failed: list[str] = []
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("response", lambda r: failed.append(f"{r.url} ({r.status})") if r.status >= 400 else None)
        for path in site_pages(site):
            rel = path.relative_to(site).as_posix()
            page.goto(base + rel, wait_until="load")
            hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
            broken += check_links(site, base, rel, hrefs)
            if rel.startswith("slides/"):
                back = page.locator("a.course-back")
                assert back.count() == 1 and back.is_visible(), f"{rel}: no link back to the site"
                continue  # reveal.js decks: tests/test_slides.py checks them in depth
            banner = page.locator(".bd-header-announcement")
            if rel == "results.html" or rel.startswith("results/"):
                assert banner.is_visible() and BANNER not in banner.inner_text(), f"{rel}: banner"
            elif mode == "fast":
                assert banner.is_visible() and BANNER in banner.inner_text(), f"{rel}: no fast-mode banner"
            if rel != "search.html":  # (the search page has its own form as well)
                boxes = page.evaluate(SEARCH_BOXES_JS)
                assert boxes == 1, f"{rel}: {boxes} search boxes shown"
            hidden += [f"{rel}: {h}" for h in page.evaluate(HIDDEN_OVERFLOW_JS)]
            small += [f"{rel}: {s}" for s in page.evaluate(SMALL_IMAGES_JS)]
            if rel.startswith("notebooks/"):
                check_notebook_page(page, rel, mode, repo)
        # Search: Sphinx's own index, in the browser.
        page.goto(base + "search.html?q=dropout", wait_until="load")
        page.locator("#search-results .search-summary", has_text="Search finished").wait_for(timeout=30_000)
        found = page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
        assert any("notebooks/05_overfitting_and_dropout.html" in h for h in found), found
        # Snippets: the page's words, not the theme's buttons or a model summary's box drawing.
        page.wait_for_function("document.querySelectorAll('#search-results p.context').length >= "
                               f"{min(len(found), 3)}", timeout=30_000)
        snippets = page.eval_on_selector_all("#search-results p.context", "ps => ps.map(p => p.innerText)")
        noisy = [s for s in snippets if re.search(r"Light Dark|Settings|Contents|[│┃━─┏┡└]", s)]
        assert noisy == [], f"search snippets with the theme's labels or output noise: {noisy}"
        # On a phone the header has one search button too.
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(base + "index.html", wait_until="load")
        assert page.evaluate(SEARCH_BOXES_JS) == 1, "phone: not exactly one search box"
    assert blocked == [], f"pages asked for the network: {sorted(set(blocked))}"
    assert failed == [], f"requests failed: {failed}"
    assert broken == [], "links that lead nowhere:\n" + "\n".join(broken)
    assert hidden == [], "text cut off at the right edge (it must wrap or scroll):\n" + "\n".join(hidden)
    assert small == [], "pictures not loaded, too small to read or cut off:\n" + "\n".join(small)


#: Search boxes a reader sees: the theme's search fields and buttons, and search inputs.
SEARCH_BOXES_JS = """() => [...document.querySelectorAll(
    ".search-button-field, .search-button, input[type=search], #searchbox input")]
  .filter(el => el.checkVisibility() && el.getBoundingClientRect().width > 0).length"""

#: Pictures on a page's article that did not load, are drawn under 300 px wide (or under their
#: natural width, when that is smaller), or reach past the window's right edge.
SMALL_IMAGES_JS = """() => {
  const bad = [];
  for (const img of document.querySelectorAll("main img")) {
    const src = img.getAttribute("src");
    if (!(img.complete && img.naturalWidth > 0)) { bad.push(src + ": not loaded"); continue; }
    if (!img.closest("article") || !img.checkVisibility()) continue;  // theme menus' icons
    const box = img.getBoundingClientRect();
    if (box.width + 1 < Math.min(300, img.naturalWidth))
      bad.push(`${src}: ${Math.round(box.width)} px wide (natural ${img.naturalWidth})`);
    if (box.right > document.documentElement.clientWidth + 1)
      bad.push(`${src}: reaches ${Math.round(box.right)} px, window ${document.documentElement.clientWidth}`);
  }
  return bad;
}"""


#: Outputs, tables and code wider than their box must wrap or scroll, never be clipped: the
#: elements whose content is cut off by an ancestor (or themselves) with overflow hidden.
HIDDEN_OVERFLOW_JS = """() => {
  const cut = [];
  for (const el of document.querySelectorAll("main pre, main table")) {
    const right = el.getBoundingClientRect().left + el.scrollWidth;
    for (let box = el; box && box !== document.body; box = box.parentElement) {
      const style = getComputedStyle(box);
      const clips = ["hidden", "clip"].includes(style.overflowX);
      const edge = box.getBoundingClientRect().right;
      if ((box === el ? el.scrollWidth > el.clientWidth + 1 && clips : clips && right > edge + 1)) {
        cut.push(el.tagName.toLowerCase() + ": " + el.innerText.slice(0, 80).replace(/\\s+/g, " "));
        break;
      }
      if (["auto", "scroll"].includes(style.overflowX)) break;
    }
  }
  return cut;
}"""


def check_notebook_page(page, rel: str, mode: str, repo: Repo) -> None:
    name = Path(rel).stem + ".ipynb"
    stamp = page.locator(f".tag_{course_site.STAMP_TAG}")
    assert stamp.is_visible(), f"{rel}: no run stamp"
    text = stamp.inner_text()
    assert course_site.stamp_mode(text) == mode and "Executed" in text, f"{rel}: stamp {text!r}"
    figures = page.eval_on_selector_all(
        ".cell_output img", "imgs => imgs.map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])"
    )
    assert all(ok for _, ok in figures), f"{rel}: figures that did not load: {figures}"
    if Path(rel).stem[:2] not in FIGURELESS:
        assert figures, f"{rel}: no figure on the page"
    assert page.locator(f'a[href="{repo.colab(name)}"]').count() >= 1, f"{rel}: no Colab link"
    assert page.locator(f'a[href^="https://mybinder.org/v2/gh/{repo.slug}/{repo.ref}"]').count() >= 1
    if page.locator(".math").count():  # MathJax, from the site itself, typesets the formulas
        page.locator("mjx-container").first.wait_for(timeout=30_000)

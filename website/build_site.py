"""Build the course website into ``build/site/``: notebooks with outputs, slides, guides, results.

    python -m website.build_site                  # the mode COURSE_FAST says (unset: full)
    python -m website.build_site --mode fast      # `make site`: quick, every page says so
    python -m website.build_site --mode full      # `make site COURSE_FAST=0`: the real outputs
    python -m website.build_site --out DIR        # somewhere else (replaced; must be a site build)

Run from the repository root (``website``, ``slides`` and ``release`` are packages there).

Steps: install the pinned MathJax and reveal.js/KaTeX from npm once (``npm ci``; skipped when
current), build the decks (``slides/build_slides.py``, each linking back to the site's slides
page), stage the pages into ``<out>-src/`` (``website/*.md``, the notebooks, ``results/*.md``,
``jobs/README.md``, ``README.md`` for the include directives, MathJax, and the landing page's
figure, drawn by ``slides/figures.py``), execute the notebooks that ``build/site-cache/<mode>/`` (a
jupyter-cache) lacks, two at a time (``course_lib.runner``), then run Sphinx
(``website/conf.py``), which takes every notebook's outputs from that cache: a notebook runs
again only when its code changed.
A notebook that fails stops the build. Nothing is downloaded while building or viewing.

The site records how it was built in ``<out>/course-site.json`` (mode, time, commit).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from course_lib import runner
from course_lib.config import RunMode
from slides.build_slides import prepare_out
from website import course_site

ROOT = Path(__file__).resolve().parents[1]
WEBSITE = ROOT / "website"
DEFAULT_OUT = ROOT / "build" / "site"
BUILD_MARKER = ".course-site-build"
INFO_FILE = "course-site.json"
NPM_TIMEOUT_S = 600
# Copied from the mathjax npm package: the component Sphinx loads, and what it loads on demand
# (TeX extensions, fonts, the menu and its accessibility tools).
MATHJAX = ("tex-mml-chtml.js", "input", "output/chtml", "ui", "a11y", "sre", "adaptors")
# Pages of the site that come from elsewhere in the repository, staged under the same paths so
# that relative links written for GitHub work on the site too.
STAGED_GLOBS = ("notebooks/[0-9]*.ipynb", "results/*.md", "jobs/README.md", "README.md")
# The landing page's picture (website/index.md): a slide figure, drawn at build time.
LANDING_FIGURE = "conv_feature_map"


def ensure_mathjax() -> Path:
    """The pinned MathJax (``website/package-lock.json``), installed with ``npm ci`` when missing."""
    modules = WEBSITE / "node_modules"
    lock, installed = WEBSITE / "package-lock.json", modules / ".package-lock.json"
    if not (installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime):
        if shutil.which("npm") is None:
            raise RuntimeError("npm is needed once to fetch MathJax; install Node.js (20+).")
        print("npm ci (MathJax, pinned in website/package-lock.json)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error",
                        "--fetch-timeout=60000"], cwd=WEBSITE, check=True, timeout=NPM_TIMEOUT_S)
    return modules / "mathjax" / "es5"


def stage(src: Path, mathjax: Path) -> None:
    """Fill ``src`` (replaced) with the site's sources, under their repository paths."""
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(WEBSITE, src, ignore=shutil.ignore_patterns(
        "node_modules", "package*.json", "*.py", "_static", "__pycache__"))  # code, not pages
    for pattern in STAGED_GLOBS:
        for path in sorted(ROOT.glob(pattern)):
            target = src / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    for item in MATHJAX:
        source, target = mathjax / item, src / "_assets" / "mathjax" / item
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    from slides import figures  # Matplotlib loads only when the site is built

    figures.render([LANDING_FIGURE], src / "_figures", fmt="svg")


def build_decks(out: Path) -> None:
    """The instructor decks, built as ``make slides`` builds them, into ``out`` (the site's
    ``slides/``), each linking back to the site's slides page by a relative link."""
    env = dict(os.environ, MPLBACKEND="Agg")
    subprocess.run([sys.executable, "-m", "slides.build_slides", "--out", str(out),
                    "--back", "../slides.html"], check=True, env=env, cwd=ROOT)


def sphinx_env(mode: str, handoff: Path) -> dict[str, str]:
    """The environment Sphinx, and through it every notebook's kernel, runs in."""
    return dict(
        runner.kernel_environ(RunMode.named(mode, RunMode.from_env().seed)),
        # Notebook 10 hands its results to notebook 11 through this folder, new for every
        # build: when notebook 10's outputs come from the cache (made by older code, which
        # jupyter-cache does not notice), notebook 11 finds nothing and trains its networks
        # itself, instead of refusing a stale handoff.
        COURSE_CACHE_DIR=str(handoff),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )


def without_machine_paths(nb, env: dict[str, str]):
    """``nb`` with the building machine's folders in its text outputs written as a reader would:
    the data and hand-off folders as ``$COURSE_DATA_DIR`` and ``$COURSE_CACHE_DIR``, the home
    folder as ``~``.

    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("load()")])
    >>> nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="from /srv/d/mnist.npz\\n")]
    >>> without_machine_paths(nb, {"COURSE_DATA_DIR": "/srv/d/"}).cells[0].outputs[0].text
    'from $COURSE_DATA_DIR/mnist.npz\\n'
    >>> nb.cells[0].outputs[0].text = "saved: /tmp/h1/selfscaling.json\\n"
    >>> without_machine_paths(nb, {"COURSE_CACHE_DIR": "/tmp/h1"}).cells[0].outputs[0].text
    'saved: $COURSE_CACHE_DIR/selfscaling.json\\n'
    """
    swaps = {str(Path.home()): "~"}
    for variable in ("COURSE_DATA_DIR", "COURSE_CACHE_DIR"):
        if env.get(variable):
            folder = env[variable]
            swaps |= {str(Path(folder).expanduser().resolve()): f"${variable}",
                      folder.rstrip("/"): f"${variable}"}
    order = sorted(swaps, key=len, reverse=True)  # the longest first: a data folder under home

    def clean(text: str) -> str:
        for path in order:
            text = text.replace(path, swaps[path])
        return text

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = clean(out["text"])
            for mime, value in out.get("data", {}).items():
                if mime.startswith("text/") and isinstance(value, str):
                    out["data"][mime] = clean(value)
    return nb


#: What a notebook's outputs depend on besides its own cells (a record from other code re-runs).
OUTPUT_CODE = ["course_lib", "website/build_site.py"]


def execute_missing(notebooks: list[Path], mode: str, env: dict[str, str], workers: int = 2) -> int:
    """Run the notebooks the ``mode`` cache lacks, ``workers`` at a time, and store their outputs
    as myst-nb would; return how many ran. Raises RuntimeError naming a notebook that fails."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(course_site.cache_dir(mode)))
    # jupyter-cache matches a notebook's own code only; outputs also depend on course_lib and on
    # this builder, so a record made by other code runs again instead of being reused.
    digest = course_site.provenance_module().code_digest(OUTPUT_CODE)
    missing = []
    for path in notebooks:
        try:
            record = cache.match_cache_notebook(course_site.notebook_as_read(path))
        except KeyError:
            missing.append(path)
            continue
        if record.data.get("code_digest") != digest:
            missing.append(path)
    if not missing:
        return 0
    print(f"executing {len(missing)} notebook(s), {workers} at a time: "
          f"{', '.join(p.stem for p in missing)}", flush=True)
    for run in runner.execute_many(missing, RunMode.named(mode), workers=workers, env=env,
                                   timeout=course_site.CELL_TIMEOUT_S[mode],
                                   prepare=course_site.notebook_as_read):
        if not run.ok:
            raise RuntimeError(f"{run.name} failed while executing for the site:\n{run.traceback}")
        record = cache.add_nb_to_project(str(next(p for p in missing if p.name == run.name)))
        cache.cache_notebook_bundle(CacheBundleIn(without_machine_paths(run.notebook, env), record.uri,
                                                  data={"execution_seconds": run.seconds,
                                                        "code_digest": digest}),
                                    check_validity=False, overwrite=True)
        print(f"  {run.name}: executed in {run.seconds:.0f} s; data: {run.data_sources}", flush=True)
    return len(missing)


def build(out: Path = DEFAULT_OUT, mode: str = "fast", strict: bool = True,
          workers: int = 2) -> dict:
    """Build the site in ``mode`` into ``out``; return what ``course-site.json`` records.

    ``workers`` notebooks execute at a time (:func:`execute_missing`).
    """
    if mode not in course_site.MODES:
        raise ValueError(f"mode must be one of {course_site.MODES}, got {mode!r}")
    start = time.monotonic()
    out = out.resolve()
    src = out.with_name(out.name + "-src")
    mathjax = ensure_mathjax()
    stage(src, mathjax)
    build_decks(src / "_extra" / "slides")  # before the notebooks: a missing npm fails in seconds
    prepare_out(out, BUILD_MARKER, "site build")
    print(f"building the site in {mode} mode into {out} (notebooks execute through "
          f"{course_site.cache_dir(mode)}; only changed ones run)", flush=True)
    # -E -a: a fresh environment every time, so pages of another mode's build never survive;
    # cheap, because execution is what takes time, and jupyter-cache keeps that.
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(WEBSITE), "-E", "-a",
               "-d", str(src / "_doctrees"), *(["-W", "--keep-going"] if strict else []),
               str(src), str(out)]
    with tempfile.TemporaryDirectory(prefix="course_site_handoff_") as handoff:
        env = sphinx_env(mode, Path(handoff))
        execute_missing(sorted((src / "notebooks").glob("[0-9]*.ipynb")), mode, env, workers)
        done = subprocess.run(command, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"Sphinx failed (exit {done.returncode}); its messages are above.")
    from course_lib.environment import cpu_description, git_commit

    info = {
        "mode": mode,
        "built": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.monotonic() - start, 1),
        "machine": cpu_description(),
        "commit": git_commit(ROOT),
    }
    (out / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"site built in {info['seconds']:.0f} s ({mode} mode): open {out / 'index.html'}")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=course_site.MODES, default=None,
                        help="fast or full (default: what COURSE_FAST says; unset means full)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (replaced)")
    parser.add_argument("--no-strict", dest="strict", action="store_false",
                        help="let Sphinx warnings pass (default: a warning fails the build)")
    parser.add_argument("--workers", type=int, default=2,
                        help="notebooks executed at a time (default 2; each needs up to ~4 GiB)")
    args = parser.parse_args(argv)
    try:
        build(args.out, args.mode or RunMode.from_env().name, args.strict, args.workers)
    except (RuntimeError, ValueError, subprocess.CalledProcessError) as exc:
        print(f"build_site: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

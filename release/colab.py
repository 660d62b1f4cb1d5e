"""Colab and Binder launch links for every notebook, from one configured repository address.

    python -m release.colab            # update notebooks/*.ipynb and the README's table
    python -m release.colab --check    # change nothing; exit 1 if anything is out of date

For each notebook it

- puts an "Open in Colab" badge under the title of the first (markdown) cell, and under it the
  notebook's line from the schedule (its decks, class time and measured run times;
  ``release/schedule.py``);
- inserts, right after the title cell, a 4-line code cell tagged ``colab-setup`` that on Colab
  installs ``course_lib`` from the repository at the tag matching ``course_lib.__version__``
  (never touching Colab's TensorFlow or Keras), and everywhere imports ``course_lib`` before
  anything loads TensorFlow (``course_lib.quiet``);

and it rewrites the README's notebook table between ``<!-- notebooks:start -->`` and
``<!-- notebooks:end -->`` with the schedule's decks and times and Colab and Binder badges. Each row's "what you learn" is the
notebook's first *What you will learn* bullet (:func:`learn_summary`), the same text the
website's table shows. Running it twice changes nothing.
The address lives in ``release/course.toml``.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CONFIG = Path(__file__).with_name("course.toml")
START, END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"
TAG = "colab-setup"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
# The notebooks' link line: a text link (an image badge is a broken picture offline), or the
# image badge of older versions, which it replaces.
BADGE_LINE = re.compile(r"^\[(?:!\[Open In Colab\]\([^)]*\)|Open in Colab)\]\([^)]*\)[ \t]*\n(?:[ \t]*\n)?",
                        re.MULTILINE)
TITLE = re.compile(r"^#\s+(\d+)\s*[·:.-]\s*(.+?)\s*$")
BULLET = re.compile(r"^\s*[-*]\s+")  # a markdown list item's marker


def course_version() -> str:
    text = (ROOT / "course_lib" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if not match:
        raise RuntimeError("course_lib/__init__.py has no __version__ = \"...\" line")
    return match.group(1)


def read_config(path: Path) -> dict[str, str]:
    """The ``[repository]`` table of ``course.toml``."""
    return tomllib.loads(path.read_text(encoding="utf-8"))["repository"]


@dataclass(frozen=True)
class Repo:
    url: str  # https://github.com/OWNER/NAME
    ref: str  # the git tag the links point at
    notebooks: str = "notebooks"

    @classmethod
    def load(cls, path: Path = CONFIG) -> Repo:
        conf = read_config(path)
        url = conf["url"].rstrip("/")
        if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
            raise ValueError(f"{path}: url {url!r} must look like https://github.com/OWNER/NAME")
        return cls(url=url, ref=f"v{course_version()}", notebooks=conf.get("notebooks", "notebooks"))

    @property
    def slug(self) -> str:
        return self.url.removeprefix("https://github.com/")

    def colab(self, name: str) -> str:
        return f"https://colab.research.google.com/github/{self.slug}/blob/{self.ref}/{self.notebooks}/{name}"

    def binder(self, name: str) -> str:
        path = quote(f"{self.notebooks}/{name}", safe="")
        return f"https://mybinder.org/v2/gh/{self.slug}/{self.ref}?labpath={path}"

    def pip_spec(self) -> str:
        """The course_lib of this tag, as a source archive (plain HTTPS, no git needed)."""
        return f"course_lib @ {self.url}/archive/refs/tags/{self.ref}.zip"


# The pip arguments of the setup cell. --no-deps: Colab already has every runtime dependency,
# and its TensorFlow and Keras must never be replaced; --timeout bounds each network read.
PIP_FLAGS = "install -q --no-deps --timeout 60"


def pip_arguments(spec: str) -> str:
    """What the setup cell passes to ``%pip`` for ``spec``."""
    return f'{PIP_FLAGS} "{spec}"'


def colab_badge(repo: Repo, name: str) -> str:
    """The README's image badge (GitHub shows it online)."""
    return f"[![Open In Colab]({COLAB_BADGE})]({repo.colab(name)})"


def colab_link(repo: Repo, name: str) -> str:
    """The notebook's own link: plain text, which reads the same offline.

    >>> colab_link(Repo("https://github.com/o/r", "v1"), "01_x.ipynb")
    '[Open in Colab](https://colab.research.google.com/github/o/r/blob/v1/notebooks/01_x.ipynb)'
    """
    return f"[Open in Colab]({repo.colab(name)})"


def setup_source(repo: Repo) -> str:
    """The 4-line first code cell: on Colab, install course_lib; everywhere, import it first."""
    return (
        "import sys  # On Colab, install the course helpers that match this notebook.\n"
        'if "google.colab" in sys.modules:\n'
        f"    %pip {pip_arguments(repo.pip_spec())}\n"
        "import course_lib  # first: keeps TensorFlow's start-up messages out of the notebook"
    )


def title_of(nb) -> tuple[str, str]:
    """(number, title) from the first cell's ``# NN · Title`` heading."""
    first = nb.cells[0] if nb.cells else None
    line = first.source.splitlines()[0] if first is not None and first.source else ""
    match = TITLE.match(line)
    if first is None or first.cell_type != "markdown" or not match:
        raise ValueError(f"the first cell must be markdown starting with '# NN · Title', got {line!r}")
    return match.group(1), match.group(2)


def with_badge(source: str, badge: str) -> str:
    source = BADGE_LINE.sub("", source)
    heading, _, rest = source.partition("\n")
    return f"{heading}\n\n{badge}\n\n{rest.lstrip(chr(10))}".rstrip("\n")


def update_notebook(nb, repo: Repo, name: str, sched=None):
    """Return the notebook with badge, schedule line and setup cell in place (modifies ``nb``).

    ``sched``: the :class:`release.schedule.Schedule` (loaded when not given).
    """
    from release import schedule

    number, _ = title_of(nb)
    sched = sched or schedule.Schedule.load()
    source = with_badge(nb.cells[0].source, colab_link(repo, name))
    nb.cells[0].source = schedule.with_header(source, schedule.header_line(sched, number))
    nb.cells = [c for c in nb.cells if TAG not in c.get("metadata", {}).get("tags", [])]
    cell = nbformat.v4.new_code_cell(setup_source(repo))
    cell.id = TAG
    cell.metadata = {"tags": [TAG], "slideshow": {"slide_type": "skip"}}
    nb.cells.insert(1, cell)
    return nb


def learn_summary(nb) -> str:
    r"""The first 'What you will learn' bullet, whole (continuation lines joined), as a table cell.

    The one source of the course table's "what you learn" column, in the README
    (:func:`readme_table`) and on the website (``website/course_site.py``).

    >>> from nbformat.v4 import new_markdown_cell, new_notebook
    >>> nb = new_notebook(cells=[new_markdown_cell(
    ...     "# 07 · GPU\n\n**What you will learn**\n- how to pin work with `keras.device` (and\n"
    ...     "  `tf.device`);\n- more.")])
    >>> learn_summary(nb)
    'how to pin work with `keras.device` (and `tf.device`)'
    """
    lines = nb.cells[0].source.splitlines()
    for i, line in enumerate(lines):
        if "what you will learn" in line.lower():
            parts: list[str] = []
            for item in lines[i + 1 :]:
                bullet = BULLET.match(item)
                if parts and (bullet or not item.strip()):
                    break  # the next bullet, or the end of the list
                if bullet:
                    parts.append(item[bullet.end() :].strip())
                elif parts:
                    parts.append(item.strip())  # a continuation line of the first bullet
            return " ".join(parts).rstrip(";.,").replace("|", "\\|")
    return ""


def readme_table(repo: Repo, notebooks: list[Path], sched=None) -> str:
    """The README's notebook table, with the schedule's decks and times (``release/schedule.py``)
    and Colab and Binder badges; "what you learn" comes from the notebook."""
    from release import schedule

    sched = sched or schedule.Schedule.load()
    rows = [
        "| # | notebook | what you learn | slides | class time: teach + exercises "
        "| run time: fast / full | launch |",
        "|---|---|---|---|---|---|---|",
    ]
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        number, title = title_of(nb)
        launch = (
            f"{colab_badge(repo, path.name)} "
            f"[![Binder]({BINDER_BADGE})]({repo.binder(path.name)})"
        )
        decks, class_time, run_time = schedule.readme_cells(sched, number)
        rows.append(
            f"| {number} | [{title}]({repo.notebooks}/{path.name}) | {learn_summary(nb)} | {decks} "
            f"| {class_time} | {run_time} | {launch} |"
        )
    return "\n".join(rows)


def update_readme(text: str, repo: Repo, notebooks: list[Path], sched=None) -> str:
    if START not in text or END not in text:
        raise ValueError(f"README.md needs the markers {START} and {END} around the notebook table")
    head, _, tail = text.partition(START)
    tail = tail.partition(END)[2]
    return f"{head}{START}\n{readme_table(repo, notebooks, sched)}\n{END}{tail}"


def run(root: Path = ROOT, check: bool = False, repo: Repo | None = None) -> list[str]:
    """Update (or, with ``check``, only inspect) notebooks and README; return what differs."""
    from release import schedule

    repo = repo or Repo.load()
    sched = schedule.Schedule.load()  # the course's schedule, whatever root is
    notebooks = sorted((root / repo.notebooks).glob("[0-9]*.ipynb"))
    stale = []
    for path in notebooks:
        before = nbformat.read(path, as_version=4)
        after = update_notebook(nbformat.read(path, as_version=4), repo, path.name, sched)
        if after != before:
            stale.append(str(path.relative_to(root)))
            if not check:
                nbformat.validate(after)
                nbformat.write(after, path)
    readme = root / "README.md"
    if readme.exists():
        text = readme.read_text(encoding="utf-8")
        new = update_readme(text, repo, notebooks, sched)
        if new != text:
            stale.append("README.md")
            if not check:
                readme.write_text(new, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when stale")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    stale = run(args.root, check=args.check)
    verb = "out of date" if args.check else "updated"
    for name in stale:
        print(f"{verb}: {name}")
    if args.check and stale:
        print("run: python -m release.colab (or make colab)", file=sys.stderr)
        return 1
    if not stale:
        print("Colab badges, setup cells and README table are up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The course schedule: one table in ``release/course.toml``, and the files generated from it.

    python -m release.schedule            # rewrite the decks' closing slides and the instructor guide
    python -m release.schedule --check    # change nothing; exit 1 if one of them is out of date

Per notebook the schedule holds objectives, questions, teaching and exercise minutes, the
exercises to set, prerequisites and slide decks; per deck its minutes; per format of the day a
timed plan. Run times are read from ``results/notebook_runs.md`` (as notebook 00's room check
reads them), never typed. From it come each notebook's header line and the README's table
(written by ``release/colab.py``), every deck's closing slide "Now open notebook NN", and the
regions ``<!-- schedule:NAME:start -->`` ... ``:end -->`` of ``website/instructors.md``.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_lib.roomcheck import Measured, format_seconds, notebook_runs
from release import generated
from release.colab import CONFIG, Repo, title_of

ROOT = Path(__file__).resolve().parents[1]
GUIDE = Path("website") / "instructors.md"
MODES = ("fast", "full")
RUNS = ("full", "fast", "site")  # how a plan runs a notebook: live in a mode, or the site's page
HEADER = re.compile(r"^\*\*Slides:\*\*.*(?:\n|$)", re.MULTILINE)  # a notebook's header line
CLOSING = re.compile(r"\n---[ \t]*\n+## Now open notebook.*\Z", re.DOTALL)  # a deck's last slide
GENERATED_NOTE = "<!-- written by release/schedule.py from release/course.toml -->"


def clock(minutes: int) -> str:
    """Minutes after midnight as hh:mm.

    >>> clock(9 * 60 + 5)
    '09:05'
    """
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def duration(minutes: int) -> str:
    """A length of time in hours and minutes.

    >>> duration(210), duration(45)
    ('3 h 30 min', '45 min')
    """
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if hours and rest else (f"{hours} h" if hours else f"{rest} min")


# --- the schedule ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Deck:
    stem: str  # e.g. "03_mnist_classifiers"
    title: str
    minutes: int
    slides: int  # slides in the built deck, the title slide included

    @property
    def label(self) -> str:
        return f"{self.stem[:2]} · {self.title}"


@dataclass(frozen=True)
class Notebook:
    number: str
    name: str  # the file, e.g. "02_mnist_softmax_regression.ipynb"
    title: str
    objectives: tuple[str, ...]
    questions: tuple[str, ...]
    teach: int
    exercises: int
    prerequisites: tuple[str, ...]
    decks: tuple[Deck, ...]
    exercise_set: tuple[str, ...]
    exercise_titles: dict[str, str]
    runs: dict[str, Measured]  # by mode; a mode without a measurement is missing

    @property
    def label(self) -> str:
        return f"{self.number} · {self.title}"

    def run_time(self, mode: str) -> str:
        run = self.runs.get(mode)
        return format_seconds(run.seconds if run else None)


@dataclass(frozen=True)
class Block:
    """One item of a day's plan."""

    kind: str  # "deck", "notebook" or "activity"
    minutes: int
    text: str = ""  # an activity's description
    deck: Deck | None = None
    notebook: Notebook | None = None
    run: str = ""  # a notebook's: "full", "fast" or "site"
    exercises: bool = False


@dataclass(frozen=True)
class Day:
    start: int  # minutes after midnight
    blocks: tuple[Block, ...]

    @property
    def minutes(self) -> int:
        return sum(b.minutes for b in self.blocks)


@dataclass(frozen=True)
class Format:
    name: str
    goal: str
    days: tuple[Day, ...]


def _fail(where: str, problem: str) -> ValueError:
    return ValueError(f"{CONFIG.relative_to(ROOT)}, {where}: {problem}")


def _minutes(value, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _fail(where, f"minutes must be a whole number >= 0, got {value!r}")
    return value


def exercise_titles(nb) -> dict[int, str]:
    """Each numbered exercise's short title: its bold lead-in, else its first sentence (at most 60
    characters).

    >>> from nbformat.v4 import new_markdown_cell, new_notebook
    >>> exercise_titles(new_notebook(cells=[new_markdown_cell(
    ...     "## Exercises\\n\\n1. **Leaky ReLU.** Train it.\\n2. Time a product. Then more.\\n"
    ...     "3. A first sentence far too long to serve as the title of an exercise in a table.")]))
    {1: 'Leaky ReLU', 2: 'Time a product'}
    """
    titles: dict[int, str] = {}
    for cell in nb.cells:
        if cell.cell_type != "markdown" or "## Exercises" not in cell.source:
            continue
        for match in re.finditer(r"^(\d+)\.\s+(.+)$", cell.source.split("## Exercises", 1)[1],
                                 re.MULTILINE):
            line = match.group(2).strip()
            bold = re.match(r"\*\*(.+?)\*\*", line)
            title = bold.group(1) if bold else re.split(r"(?<=[.?!])\s", line, maxsplit=1)[0]
            title = title.rstrip(".:?!").strip()
            if len(title) <= 60:
                titles[int(match.group(1))] = title
    return titles


@dataclass(frozen=True)
class Schedule:
    repo: Repo
    site: str  # the course website's address, without a trailing slash
    results: str  # the measured table, relative to the repository
    backend: str
    decks: dict[str, Deck]
    notebooks: dict[str, Notebook]
    formats: tuple[Format, ...]

    @classmethod
    def load(cls, root: Path = ROOT, config: Path = CONFIG) -> Schedule:
        """Read and check the schedule; ValueError names the bad entry and the fix."""
        from course_lib.exercises import EXERCISES
        from slides.build_slides import find_decks, parse_deck

        conf = tomllib.loads(config.read_text(encoding="utf-8"))
        repo = Repo.load(config)
        owner, name = repo.slug.split("/")
        site = conf["repository"].get("site") or f"https://{owner}.github.io/{name}"
        sched = conf.get("schedule", {})
        results, backend = sched.get("results", "results/notebook_runs.md"), sched.get("backend", "tensorflow")
        runs = notebook_runs((root / results).read_text(encoding="utf-8"), backend)

        decks: dict[str, Deck] = {}
        deck_files = {p.stem: p for p in find_decks(root / "slides")}
        for stem, entry in conf.get("decks", {}).items():
            if stem not in deck_files:
                raise _fail(f"[decks.{stem}]", f"there is no slides/{stem}.md; use one of {sorted(deck_files)}")
            parsed = parse_deck(deck_files[stem])
            slides = parsed.n_slides + (not CLOSING.search(deck_files[stem].read_text(encoding="utf-8")))
            decks[stem] = Deck(stem, parsed.title, _minutes(entry.get("minutes"), f"[decks.{stem}]"), slides)
        if missing := sorted(set(deck_files) - set(decks)):
            raise _fail("[decks]", f"no entry for {missing}; add [decks.NAME] with its minutes")

        notebooks: dict[str, Notebook] = {}
        files = {p.name[:2]: p for p in sorted((root / repo.notebooks).glob("[0-9]*.ipynb"))}
        entries = conf.get("notebooks", {})
        if sorted(entries) != sorted(files):
            raise _fail("[notebooks]", f"entries {sorted(entries)} must match the notebooks {sorted(files)}")
        for number, entry in sorted(entries.items()):
            where = f"[notebooks.{number}]"
            nb = nbformat.read(files[number], as_version=4)
            _, title = title_of(nb)
            for key in ("objectives", "questions"):
                if not entry.get(key) or not all(isinstance(s, str) and s for s in entry[key]):
                    raise _fail(where, f"{key} must be a list of short sentences, got {entry.get(key)!r}")
            prereqs = tuple(entry.get("prerequisites", []))
            if bad := [p for p in prereqs if p not in files or p >= number]:
                raise _fail(where, f"prerequisites {bad} are not earlier notebooks")
            if bad := [d for d in entry.get("slides", []) if d not in decks]:
                raise _fail(where, f"slides {bad} are not decks; use file stems from {sorted(decks)}")
            chosen = tuple(entry.get("set", []))
            if bad := [q for q in chosen if q not in EXERCISES or not q.startswith(number + ".")]:
                raise _fail(where, f"set {bad}: not exercises of this notebook; its are "
                                   f"{sorted(q for q in EXERCISES if q.startswith(number + '.'))}")
            titles = exercise_titles(nb)
            notebooks[number] = Notebook(
                number=number, name=files[number].name, title=title,
                objectives=tuple(entry["objectives"]), questions=tuple(entry["questions"]),
                teach=_minutes(entry.get("teach"), where + " teach"),
                exercises=_minutes(entry.get("exercises"), where + " exercises"),
                prerequisites=prereqs, decks=tuple(decks[d] for d in entry.get("slides", [])),
                exercise_set=chosen,
                exercise_titles={q: titles[int(q.split(".")[1])] for q in chosen
                                 if int(q.split(".")[1]) in titles},
                runs={mode: runs[(number, mode)] for mode in MODES if (number, mode) in runs},
            )
        if unused := sorted(set(decks) - {d.stem for n in notebooks.values() for d in n.decks}):
            raise _fail("[notebooks]", f"decks {unused} lead to no notebook; name them in a notebook's slides")
        formats = tuple(_format(f, i, decks, notebooks) for i, f in enumerate(conf.get("formats", [])))
        return cls(repo, site.rstrip("/"), results, backend, decks, notebooks, formats)

    def site_page(self, nb: Notebook) -> str:
        return f"{self.site}/{self.repo.notebooks}/{Path(nb.name).stem}.html"

    def notebooks_of(self, deck: Deck) -> list[Notebook]:
        return [n for n in self.notebooks.values() if deck in n.decks]


def _format(entry: dict, index: int, decks: dict[str, Deck], notebooks: dict[str, Notebook]) -> Format:
    where = f"[[formats]] {entry.get('name', index + 1)!r}"
    days = []
    for d, day in enumerate(entry.get("days", [])):
        start = re.fullmatch(r"(\d\d):(\d\d)", str(day.get("start", "")))
        if not start:
            raise _fail(f"{where} day {d + 1}", f"start must be hh:mm, got {day.get('start')!r}")
        blocks = []
        for b in day.get("blocks", []):
            if "deck" in b:
                if b["deck"] not in decks:
                    raise _fail(where, f"deck {b['deck']!r} is not one of {sorted(decks)}")
                deck = decks[b["deck"]]
                blocks.append(Block("deck", deck.minutes, deck=deck))
            elif "notebook" in b:
                nb = notebooks.get(b["notebook"])
                run, exercises = b.get("run"), bool(b.get("exercises", False))
                if nb is None or run not in RUNS:
                    raise _fail(where, f"block {b!r}: notebook must be one of {sorted(notebooks)} "
                                       f"and run one of {RUNS}")
                minutes = nb.teach + (nb.exercises if exercises else 0)
                full = nb.runs.get("full")
                if run == "full" and (full is None or full.seconds > minutes * 60):
                    raise _fail(where, f"notebook {nb.number} runs live in full mode, but its measured "
                                       f"full-mode time ({nb.run_time('full')}) does not fit its "
                                       f"{minutes} min; run it in fast mode or show the site's page")
                blocks.append(Block("notebook", minutes, notebook=nb, run=run, exercises=exercises))
            elif "activity" in b:
                blocks.append(Block("activity", _minutes(b.get("minutes"), where), text=b["activity"]))
            else:
                raise _fail(where, f"block {b!r} needs deck, notebook or activity")
        days.append(Day(int(start.group(1)) * 60 + int(start.group(2)), tuple(blocks)))
    if not days:
        raise _fail(where, "a format needs at least one [[formats.days]] with blocks")
    return Format(entry.get("name", f"format {index + 1}"), entry.get("goal", ""), tuple(days))


# --- notebook headers and the README ---------------------------------------------------------


def _run_times(nb: Notebook, link: str) -> str:
    """'on a 2-core CPU (measured): fast mode 23 s, full mode 2.7 min', the machine named once
    when both rows agree, else after each time."""
    machines = {mode: nb.runs[mode].cores for mode in MODES if mode in nb.runs}
    times = [f"{mode} mode {nb.run_time(mode)}" for mode in MODES]
    if len(set(machines.values())) <= 1:
        where = f" on a {next(iter(machines.values()))}" if machines else ""
        return f"{where} ({link}): " + ", ".join(times)
    return f" ({link}): " + ", ".join(
        f"{t} ({machines[m]})" if m in machines else t for t, m in zip(times, MODES, strict=True))


def header_line(sched: Schedule, number: str, prefix: str = "../") -> str:
    """The line under a notebook's title: its decks, class time and measured run times."""
    nb = sched.notebooks[number]
    decks = ", ".join(f"[{d.label}]({prefix}slides/{d.stem}.md)" for d in nb.decks) or "none"
    return (f"**Slides:** {decks} · **Class time:** teach {nb.teach} min, exercises "
            f"{nb.exercises} min · **Run time**{_run_times(nb, f'[measured]({prefix}{sched.results})')}")


def with_header(source: str, line: str) -> str:
    """``source`` (a title cell) with ``line`` right after the heading and the Colab badge."""
    source = HEADER.sub("", source)
    lines = source.split("\n")
    at = 1
    while at < len(lines) and (not lines[at].strip() or lines[at].startswith(("[![Open In Colab]", "[Open in Colab]("))):
        at += 1
    head = "\n".join(lines[:at]).rstrip("\n")
    rest = "\n".join(lines[at:]).strip("\n")
    return f"{head}\n\n{line}\n\n{rest}".rstrip("\n")


def page_facts(sched: Schedule, number: str) -> list[str]:
    """Texts a reader must find on the notebook's page (and in its header): decks and times."""
    nb = sched.notebooks[number]
    facts = ["Slides:", *(d.label for d in nb.decks), f"teach {nb.teach} min",
             f"exercises {nb.exercises} min"]
    return facts + [f"{mode} mode {nb.run_time(mode)}" for mode in MODES]


def readme_cells(sched: Schedule, number: str) -> tuple[str, str, str]:
    """The README row's slides, class time and run times (fast / full)."""
    nb = sched.notebooks[number]
    decks = ", ".join(f"[{d.stem[:2]}](slides/{d.stem}.md)" for d in nb.decks) or "-"
    return decks, f"{nb.teach} + {nb.exercises} min", f"{nb.run_time('fast')} / {nb.run_time('full')}"


# --- the decks' closing slides ---------------------------------------------------------------


def closing_slide(sched: Schedule, deck: Deck) -> str:
    """The deck's last slide: open the notebooks it leads to, on the site or in Colab."""
    nbs = sched.notebooks_of(deck)
    numbers = [n.number for n in nbs]
    heading = (f"## Now open notebook {numbers[0]}" if len(nbs) == 1
               else f"## Now open notebooks {', '.join(numbers[:-1])} and {numbers[-1]}")
    lines = [heading, "", GENERATED_NOTE, ""]
    for nb in nbs:
        lines.append(f"- **{nb.label}** (teach {nb.teach} min, exercises {nb.exercises} min): "
                     f"[course website]({sched.site_page(nb)}) · [Colab]({sched.repo.colab(nb.name)})")
    lines += ["", "Note:", "Point: " + " ".join(
        f"{n.number}: {'; '.join(n.objectives)}." for n in nbs), "",
        f"Ask: {nbs[0].questions[0]}"]
    return "\n".join(lines)


def with_closing(text: str, slide: str) -> str:
    """The deck source with ``slide`` as its last slide (replacing an earlier closing slide)."""
    return f"{CLOSING.sub('', text).rstrip()}\n\n---\n{slide}\n"


# --- the instructor guide --------------------------------------------------------------------


def notebook_table(sched: Schedule) -> str:
    rows = ["| # | notebook | slides | teach | exercises to set | needs | run time: fast / full | objectives |",
            "|---|---|---|---:|---|---|---|---|"]
    for number, nb in sched.notebooks.items():
        decks, _, run_times = readme_cells(sched, number)
        rows.append(
            f"| {number} | [{nb.title}]({sched.repo.notebooks}/{nb.name}) | {decks} | "
            f"{nb.teach} min | {', '.join(nb.exercise_set) or '-'} ({nb.exercises} min) | "
            f"{', '.join(nb.prerequisites) or '-'} | {run_times} | {'; '.join(nb.objectives)} |")
    rows += ["", "| deck | slides | minutes | before notebooks |", "|---|---:|---:|---|"]
    rows += [f"| [{d.label}](slides/{d.stem}.md) | {d.slides} | {d.minutes} | "
             f"{', '.join(n.number for n in sched.notebooks_of(d))} |" for d in sched.decks.values()]
    return "\n".join(rows)


def _how(block: Block) -> str:
    nb = block.notebook
    if block.kind == "deck":
        return f"slides ({block.deck.slides})"
    if block.kind == "activity":
        return ""
    if block.run == "site":
        return f"pre-executed page on the course website (fast mode later: {nb.run_time('fast')})"
    other = "" if block.run == "full" else "; full-mode outputs on the site" + (
        f" ({nb.run_time('full')})" if "full" in nb.runs else "")
    return f"live, {block.run} mode ({nb.run_time(block.run)}){other}"


def _what(block: Block, sched: Schedule) -> str:
    if block.kind == "deck":
        return f"Slides [{block.deck.label}](slides/{block.deck.stem}.md)"
    if block.kind == "activity":
        return block.text
    nb = block.notebook
    text = f"Notebook [{nb.label}]({sched.repo.notebooks}/{nb.name}): teach"
    if block.exercises and nb.exercise_set:
        chosen = ", ".join(f"{q} ({nb.exercise_titles[q]})" if q in nb.exercise_titles else q
                           for q in nb.exercise_set)
        text += f", then exercises {chosen}"
    return text


def format_plans(sched: Schedule) -> str:
    """Every format's timed plan: one table per day, with clock times."""
    out = []
    for fmt in sched.formats:
        total = sum(d.minutes for d in fmt.days)
        out += [f"### {fmt.name}", "", f"{fmt.goal} {duration(total)} in all"
                + (f", over {len(fmt.days)} days." if len(fmt.days) > 1 else ".")]
        for i, day in enumerate(fmt.days, start=1):
            end = day.start + day.minutes
            out += ["", f"**Day {i}, {clock(day.start)}-{clock(end)}**" if len(fmt.days) > 1
                    else f"**{clock(day.start)}-{clock(end)}**", "",
                    "| time | what | how it runs | min |", "|---|---|---|---:|"]
            now = day.start
            for block in day.blocks:
                out.append(f"| {clock(now)} | {_what(block, sched)} | {_how(block)} | {block.minutes} |")
                now += block.minutes
        out.append("")
    return "\n".join(out).rstrip()


def _constant(path: Path, name: str):
    """A module-level constant of a source file, read without importing it."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise ValueError(f"{path} defines no {name}")


def memory_facts(sched: Schedule, root: Path = ROOT) -> str:
    """What notebook 10's wide run needs, from the results and the code that decides."""
    runs = sched.notebooks["10"].runs
    min_ram = _constant(root / "course_lib" / "selfscaling" / "drift.py", "WIDE_START_MIN_RAM_GIB")
    peak = "not measured" if "full" not in runs else f"{runs['full'].peak_gib:.2f} GiB"
    took = sched.notebooks["10"].run_time("full")
    machine = f" on a {runs['full'].cores}" if "full" in runs else ""
    return (f"- Notebook 10's kernel peaked at **{peak}** in full mode, and the whole notebook took "
            f"{took}{machine} ([`{sched.results}`]({sched.results})).\n"
            f"- It starts the 4000-neuron run only where the machine reports at least "
            f"**{min_ram:g} GiB** of RAM (`WIDE_START_MIN_RAM_GIB` in "
            f"[`course_lib/selfscaling/drift.py`](course_lib/selfscaling/drift.py)); elsewhere "
            f"it prints `skipping ...` and goes on with the other runs.")


def fill_regions(text: str, regions: dict[str, str], where: str = "the guide") -> str:
    """Replace each ``<!-- schedule:NAME:start -->...<!-- schedule:NAME:end -->`` region.

    >>> fill_regions("a <!-- schedule:x:start -->old<!-- schedule:x:end --> b", {"x": "new"})
    'a <!-- schedule:x:start -->\\nnew\\n<!-- schedule:x:end --> b'
    """
    for name, body in regions.items():
        start, end = f"<!-- schedule:{name}:start -->", f"<!-- schedule:{name}:end -->"
        if start not in text or end not in text:
            raise ValueError(f"{where} needs the markers {start} and {end}")
        head, _, tail = text.partition(start)
        text = f"{head}{start}\n{body}\n{end}{tail.partition(end)[2]}"
    return text


# --- writing ---------------------------------------------------------------------------------


def run(check: bool = False, root: Path = ROOT, sched: Schedule | None = None) -> list[str]:
    """Write (or, with ``check``, compare) the decks and the guide; return the files that differ."""
    sched = sched or Schedule.load(root)
    stale = []
    for deck in sched.decks.values():
        path = root / "slides" / f"{deck.stem}.md"
        text = path.read_text(encoding="utf-8")
        if generated.sync(path, with_closing(text, closing_slide(sched, deck)), check):
            stale.append(str(path.relative_to(root)))
    guide = root / GUIDE
    regions = {"notebooks": notebook_table(sched), "formats": format_plans(sched),
               "memory": memory_facts(sched, root)}
    text = fill_regions(guide.read_text(encoding="utf-8"), regions, str(GUIDE))
    if generated.sync(guide, text, check):
        stale.append(str(GUIDE))
    return stale


def main(argv: list[str] | None = None) -> int:
    return generated.command_line(lambda check: run(check), __doc__.splitlines()[0],
                                  "the decks' closing slides and the instructor guide are up to date",
                                  argv)


if __name__ == "__main__":
    sys.exit(main())

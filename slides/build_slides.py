"""Build the instructor slide decks in ``slides/*.md`` into static, offline reveal.js pages.

    python -m slides.build_slides              # `make slides`: all decks -> build/slides/
    python -m slides.build_slides --out DIR    # somewhere else
    python -m slides.build_slides --out DIR --back ../slides.html   # inside the course website

Run from the repository root (``slides`` is a package: the decks and their builder).

What a deck source looks like (``slides/NN_name.md``)::

    title: Neural networks          <- front matter: title, subtitle (until the first ---)
    subtitle: From perceptron to deep networks
    ---
    ## A slide
    - text, **markdown**, tables, code, $inline$ and $$display$$ math
    ![Sigmoid and sign](fig:sigmoid_vs_sign)    <- figure drawn by slides/figures.py
    Note:
    Point: what the room must take away.   <- speaker notes (press S) start at a line "Note:";
                                              every slide has a "Point:" and an "Ask:" paragraph
    Ask: a question for the room?
    Further notes for the presenter.
    ---
    ## The next slide

Every deck ends with "Now open notebook NN", written by ``release/schedule.py`` from the
schedule in ``release/course.toml``: links to the notebooks on the course website and in Colab.

The build is offline end to end: reveal.js and KaTeX come from the npm packages pinned in
``slides/package-lock.json`` (installed with ``npm ci`` when missing), math is rendered to
HTML by KaTeX at build time, figures are computed by Python, and only the files the decks
use are copied next to them. Opening ``build/slides/index.html`` needs no network.

Every deck, and the list of decks, has a link back to the course website in its top left
corner: the website's slides page, given with ``--back`` (the site's build passes the relative
``../slides.html``, so it works offline), else the published site's (``release/course.toml``).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLIDES = ROOT / "slides"
NODE_MODULES = SLIDES / "node_modules"
DEFAULT_OUT = ROOT / "build" / "slides"
# Written into every build folder; --out is only ever emptied when it holds this file.
BUILD_MARKER = ".course-slides-build"
NODE_TIMEOUT_S = 120
NPM_TIMEOUT_S = 600

SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)
NOTE = re.compile(r"^Note:[ \t]*$", re.MULTILINE)
# In the notes: the point to make and the question to ask, each a paragraph of its own.
NOTE_LABEL = re.compile(r"^(Point|Ask):[ \t]*(\S.*(?:\n(?!(?:Point|Ask):)[ \t]*\S.*)*)",
                        re.MULTILINE)
FIGURE = re.compile(r"!\[([^\]]*)\]\(fig:([a-z0-9_]+)\)")
DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
CODE = re.compile(r"(^```.*?^```[ \t]*$|`[^`\n]+`)", re.MULTILINE | re.DOTALL)
INLINE_MATH = re.compile(r"(?<![\\$\w])\$(?!\s)([^$\n]+?)(?<!\s)\$(?![\w$])")

# Only these files of the npm packages are shipped with the decks.
ASSETS = {
    "reveal.js/dist/reset.css": "reveal/reset.css",
    "reveal.js/dist/reveal.css": "reveal/reveal.css",
    "reveal.js/dist/reveal.js": "reveal/reveal.js",
    "reveal.js/dist/theme/white.css": "reveal/theme/white.css",
    "reveal.js/plugin/notes/notes.js": "reveal/plugin/notes.js",
    "reveal.js/plugin/highlight/highlight.js": "reveal/plugin/highlight.js",
    "reveal.js/plugin/highlight/monokai.css": "reveal/plugin/monokai.css",
    "katex/dist/katex.min.css": "katex/katex.min.css",
}
ASSET_DIRS = {
    "reveal.js/dist/theme/fonts/source-sans-pro": "reveal/theme/fonts/source-sans-pro",
}
KATEX_FONTS = ("katex/dist/fonts", "katex/fonts")  # only the .woff2 files: every browser we target reads them


@dataclass
class Slide:
    body: str
    notes: str = ""

    def _label(self, name: str) -> str:
        return next((" ".join(m.group(2).split()) for m in NOTE_LABEL.finditer(self.notes)
                     if m.group(1) == name), "")

    @property
    def point(self) -> str:
        """The notes' ``Point:`` paragraph: what the slide must get across ("" when missing).

        >>> Slide("## A", "Point: the loss\\ngoes down.\\nAsk: why?").point
        'the loss goes down.'
        """
        return self._label("Point")

    @property
    def question(self) -> str:
        """The notes' ``Ask:`` paragraph: the question to ask the room ("" when missing).

        >>> Slide("## A", "Point: the loss\\ngoes down.\\nAsk: why?").question
        'why?'
        """
        return self._label("Ask")


@dataclass
class Deck:
    name: str
    title: str
    subtitle: str
    slides: list[Slide] = field(default_factory=list)

    @property
    def figures(self) -> list[str]:
        return [name for s in self.slides for _, name in FIGURE.findall(s.body)]

    @property
    def n_slides(self) -> int:
        """Slides in the built deck: the title slide plus one per source section."""
        return 1 + len(self.slides)


def parse_deck(path: Path) -> Deck:
    """Split a deck source into front matter and slides (with speaker notes)."""
    parts = SEPARATOR.split(path.read_text(encoding="utf-8"))
    meta = {}
    for line in parts[0].strip().splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"{path}: front matter line {line!r} is not 'key: value'.")
        meta[key.strip()] = value.strip()
    if "title" not in meta:
        raise ValueError(f"{path}: the front matter (before the first ---) needs a 'title:' line.")
    deck = Deck(name=path.stem, title=meta["title"], subtitle=meta.get("subtitle", ""))
    for part in parts[1:]:
        body, notes = NOTE.split(part, maxsplit=1) if NOTE.search(part) else (part, "")
        if not body.strip():
            raise ValueError(f"{path}: empty slide (two --- in a row?).")
        deck.slides.append(Slide(body=body.strip(), notes=notes.strip()))
    return deck


def find_decks(folder: Path = SLIDES) -> list[Path]:
    return sorted(p for p in folder.glob("*.md") if p.name != "README.md")


# --- math -----------------------------------------------------------------------------------

KATEX_SCRIPT = r"""
const katex = require(process.argv[1]);
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const out = JSON.parse(input).map(([tex, display]) =>
    katex.renderToString(tex, { displayMode: display, throwOnError: true, output: "html" }));
  process.stdout.write(JSON.stringify(out));
});
"""


def render_math(items: list[tuple[str, bool]]) -> list[str]:
    """TeX -> HTML with the pinned KaTeX, in one node process for all formulas."""
    if not items:
        return []
    result = subprocess.run(
        ["node", "-e", KATEX_SCRIPT, str(NODE_MODULES / "katex")],
        input=json.dumps(items),
        capture_output=True,
        text=True,
        check=False,
        timeout=NODE_TIMEOUT_S,
    )
    if result.returncode != 0:
        raise RuntimeError(f"KaTeX could not render a formula:\n{result.stderr.strip()}")
    return json.loads(result.stdout)


def _protect_math(text: str, found: list[tuple[str, bool]]) -> str:
    """Swap formulas for placeholders Markdown leaves alone; remember them in ``found``."""

    def keep(display: bool):
        def repl(match: re.Match) -> str:
            found.append((match.group(1).strip(), display))
            return f"KATEXMATH{len(found) - 1}X"

        return repl

    pieces = CODE.split(text)  # odd pieces are code: dollars there are shell variables
    for i in range(0, len(pieces), 2):
        pieces[i] = INLINE_MATH.sub(keep(False), DISPLAY_MATH.sub(keep(True), pieces[i]))
    return "".join(pieces)


# --- HTML -----------------------------------------------------------------------------------


def _markdown():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


def _figure_html(match: re.Match) -> str:
    caption, name = match.group(1), match.group(2)
    return (
        f'<figure class="course-figure"><img src="figures/{name}.svg" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def back_link(href: str) -> str:
    """The link from a deck (or the list of decks) back to the course website.

    >>> back_link("../slides.html")
    '<a class="course-back" href="../slides.html">← Course website</a>'
    """
    return f'<a class="course-back" href="{html.escape(href)}">← Course website</a>'


def site_slides_page() -> str:
    """The published course website's slides page (``release/course.toml``)."""
    from release.schedule import Schedule

    return f"{Schedule.load().site}/slides.html"


def deck_html(deck: Deck, back: str | None = None) -> str:
    md = _markdown()
    formulas: list[tuple[str, bool]] = []
    sections = []
    title_slide = f"<h1>{html.escape(deck.title)}</h1>"
    if deck.subtitle:
        title_slide += f'<p class="subtitle">{html.escape(deck.subtitle)}</p>'
    title_slide += '<p class="course">Introduction to Deep Learning</p>'
    sections.append(f'<section class="title-slide">\n{title_slide}\n</section>')
    for slide in deck.slides:
        body = FIGURE.sub(_figure_html, slide.body)
        inner = md.render(_protect_math(body, formulas))
        if slide.notes:
            notes = NOTE_LABEL.sub(r"**\1:** \2", slide.notes)  # the labels stand out
            inner += f'<aside class="notes">\n{md.render(_protect_math(notes, formulas))}</aside>\n'
        sections.append(f"<section>\n{inner}</section>")
    rendered = render_math(formulas)
    page = "\n".join(sections)
    page = re.sub(r"<p>KATEXMATH(\d+)X</p>", lambda m: rendered[int(m.group(1))], page)
    page = re.sub(r"KATEXMATH(\d+)X", lambda m: rendered[int(m.group(1))], page)
    return PAGE.format(title=html.escape(deck.title), sections=page,
                       back=back_link(back) if back else "")


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<link rel="stylesheet" href="assets/reveal/reset.css">
<link rel="stylesheet" href="assets/reveal/reveal.css">
<link rel="stylesheet" href="assets/reveal/theme/white.css">
<link rel="stylesheet" href="assets/reveal/plugin/monokai.css">
<link rel="stylesheet" href="assets/katex/katex.min.css">
<link rel="stylesheet" href="assets/course.css">
<style>
a.course-back {{ position: fixed; top: 0.5rem; left: 0.75rem; z-index: 40; font: 15px sans-serif;
  color: #2a76dd; background: rgba(255, 255, 255, 0.85); padding: 0.15rem 0.4rem; }}
@media print {{ a.course-back {{ display: none; }} }}
</style>
</head>
<body>
{back}
<div class="reveal"><div class="slides">
{sections}
</div></div>
<script src="assets/reveal/reveal.js"></script>
<script src="assets/reveal/plugin/notes.js"></script>
<script src="assets/reveal/plugin/highlight.js"></script>
<script>
Reveal.initialize({{
  hash: true, slideNumber: "c/t", center: false, width: 1280, height: 800,
  plugins: [RevealNotes, RevealHighlight]
}});
</script>
</body>
</html>
"""

INDEX = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Introduction to Deep Learning: slides</title>
<link rel="stylesheet" href="assets/course.css"></head>
<body class="index">
{back}
<h1>Introduction to Deep Learning: instructor slides</h1>
<p>Arrow keys move, <kbd>S</kbd> opens the speaker notes, <kbd>Esc</kbd> the overview.</p>
<ol>
{items}
</ol>
</body>
</html>
"""


# --- output ---------------------------------------------------------------------------------


def prepare_out(out: Path, marker: str, what: str) -> None:
    """Empty ``out`` for a new build of ``what`` (e.g. "slide build"), but only if it is empty or
    holds an earlier one; leave ``marker`` in it.

    A folder the builder did not write (no ``marker`` file in it) is never deleted: ``--out``
    pointed at the wrong place must cost nothing. The site builder (``website/build_site.py``)
    empties its folder the same way.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     prepare_out(Path(tmp) / "decks", BUILD_MARKER, "slide build")
    ...     print([p.name for p in (Path(tmp) / "decks").iterdir()])
    ['.course-slides-build']
    """
    if out.exists():
        if not out.is_dir():
            raise RuntimeError(f"--out {out} is a file; give a folder for the {what}.")
        if any(out.iterdir()) and not (out / marker).is_file():
            raise RuntimeError(
                f"--out {out} holds files that are not an earlier {what} (no {marker}); "
                "choose an empty or new folder, or delete it yourself."
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / marker).write_text(f"{what}, written by the course's tools; safe to delete\n",
                              encoding="utf-8")


# --- assets ---------------------------------------------------------------------------------


def ensure_node_modules() -> None:
    """Install the pinned reveal.js and KaTeX with ``npm ci`` unless they are current."""
    lock = SLIDES / "package-lock.json"
    installed = NODE_MODULES / ".package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    if shutil.which("npm") is None:
        raise RuntimeError("npm is needed once to fetch reveal.js and KaTeX; install Node.js (20+).")
    print("npm ci (reveal.js and KaTeX, pinned in slides/package-lock.json)")
    try:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", "--fetch-timeout=60000"],
            cwd=SLIDES, check=True, timeout=NPM_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(
            f"`npm ci` in {SLIDES} did not finish within {NPM_TIMEOUT_S} s: is the npm registry "
            "reachable? Run it once where it is, then build offline."
        ) from None


def copy_assets(out: Path) -> None:
    assets = out / "assets"
    for src, dst in ASSETS.items():
        target = assets / dst
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(NODE_MODULES / src, target)
    for src, dst in ASSET_DIRS.items():
        shutil.copytree(NODE_MODULES / src, assets / dst, dirs_exist_ok=True)
    fonts = next(NODE_MODULES / d for d in KATEX_FONTS if (NODE_MODULES / d).is_dir())
    (assets / "katex" / "fonts").mkdir(parents=True, exist_ok=True)
    for font in fonts.glob("*.woff2"):
        shutil.copy2(font, assets / "katex" / "fonts" / font.name)
    shutil.copy2(SLIDES / "course.css", assets / "course.css")


def build(out: Path = DEFAULT_OUT, decks: list[Path] | None = None,
          back: str | None = None) -> list[Deck]:
    """Build every deck into ``out``, each linking to ``back`` (default: the published site's
    slides page); return the parsed decks."""
    from slides import figures  # Matplotlib loads only when decks are built

    ensure_node_modules()
    parsed = [parse_deck(p) for p in (decks or find_decks())]
    if not parsed:
        raise RuntimeError(f"no decks found in {SLIDES}")
    back = back or site_slides_page()
    prepare_out(out, BUILD_MARKER, "slide build")
    copy_assets(out)
    figures.render([name for d in parsed for name in d.figures], out / "figures", fmt="svg")
    items = []
    for deck in parsed:
        (out / f"{deck.name}.html").write_text(deck_html(deck, back), encoding="utf-8")
        items.append(
            f'<li><a href="{deck.name}.html">{html.escape(deck.title)}</a>'
            f" ({deck.n_slides} slides)</li>"
        )
        print(f"{deck.name}.html: {deck.n_slides} slides, {len(deck.figures)} figures")
    (out / "index.html").write_text(INDEX.format(items="\n".join(items), back=back_link(back)),
                                    encoding="utf-8")
    print(f"open {out / 'index.html'}")
    return parsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (replaced)")
    parser.add_argument("--back", default=None, metavar="URL",
                        help="the course website's page the decks link back to, e.g. ../slides.html "
                             "(default: the published site's slides page)")
    parser.add_argument("decks", nargs="*", type=Path, help="deck sources (default: slides/*.md)")
    args = parser.parse_args(argv)
    build(args.out, args.decks or None, args.back)
    return 0


if __name__ == "__main__":
    sys.exit(main())

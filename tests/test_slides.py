"""The instructor decks build offline and render in a real headless Chromium.

Builds every deck in ``slides/`` with ``slides/build_slides.py`` into a temporary folder,
opens each in Chromium through Playwright and checks: a non-blank screenshot, the deck's
title on the title slide, the number of slides the source defines, every figure loaded,
speaker notes present, and not a single request to the network.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import browser

ROOT = Path(__file__).resolve().parents[1]
DECKS = sorted((ROOT / "slides").glob("[0-9]*.md"))
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def expected_slides(source: Path) -> int:
    """Counted straight from the source: a title slide plus one per ``---`` section."""
    return len(re.findall(r"^---[ \t]*$", source.read_text(encoding="utf-8"), re.MULTILINE)) + 1


def deck_title(source: Path) -> str:
    match = re.search(r"^title:\s*(.+)$", source.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"{source.name} has no 'title:' line in its front matter"
    return match.group(1).strip()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: the slide build needs it for reveal.js and KaTeX")
    out = tmp_path_factory.mktemp("slides")
    done = subprocess.run(
        [sys.executable, "-m", "slides.build_slides", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, f"slide build failed:\n{done.stdout}\n{done.stderr}"
    return out


def test_there_are_decks():
    assert len(DECKS) >= 4, f"expected the instructor decks in slides/, found {DECKS}"


def test_build_is_self_contained(built):
    pages = sorted(built.glob("*.html"))
    assert [p.stem for p in pages if p.stem != "index"] == [d.stem for d in DECKS]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        # Everything the page loads is a relative path inside the build folder; links lead into
        # it too, or to the course's pages on the web (the site, Colab) from the last slide.
        for ref in re.findall(r'<(?:script|img|link)\b[^>]*?\b(?:src|href)="([^"#]+)"', text):
            assert not re.match(r"^[a-z]+:", ref), f"{page.name} loads {ref}"
            assert (built / ref).is_file(), f"{page.name} refers to missing {ref}"
        for ref in re.findall(r'<a\b[^>]*?\bhref="([^"#]+)"', text):
            assert ref.startswith("https://") or (built / ref).is_file(), f"{page.name} links to missing {ref}"
    css = (built / "assets" / "katex" / "katex.min.css").read_text(encoding="utf-8")
    assert "url(fonts/KaTeX_Main-Regular.woff2)" in css
    assert (built / "assets" / "katex" / "fonts" / "KaTeX_Main-Regular.woff2").is_file()


def test_decks_render_offline(built, chromium):
    with browser.launch(chromium) as context:
        external = browser.block_outside(context, ("file:", "data:", "about:"))
        page = context.new_page()
        failures = []
        page.on("requestfailed", lambda r: failures.append(r.url))
        for source in DECKS:
            page.goto((built / f"{source.stem}.html").as_uri())
            page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=20_000)
            page.wait_for_load_state("load")
            shot = page.screenshot()
            assert browser.nonblank_fraction(shot) > 0.01, f"{source.name}: blank title slide"
            title = page.locator(".reveal .slides section.present h1").text_content()
            assert deck_title(source) == title.strip(), f"{source.name}: title slide shows {title!r}"
            assert page.evaluate("Reveal.getTotalSlides()") == expected_slides(source)
            images = page.evaluate(
                "[...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])"
            )
            assert all(ok for _, ok in images), f"{source.name}: images did not load: {images}"
            figures = len(re.findall(r"\(fig:[a-z0-9_]+\)", source.read_text(encoding="utf-8")))
            assert len(images) == figures
            assert page.locator("aside.notes").count() >= 1, f"{source.name}: no speaker notes"
            # The last slide renders too (code, tables and math included).
            page.evaluate("Reveal.slide(Reveal.getTotalSlides() - 1)")
            page.wait_for_timeout(300)
            assert browser.nonblank_fraction(page.screenshot()) > 0.01, f"{source.name}: blank last slide"
    assert external == [], f"the decks requested the network: {external}"
    assert failures == [], f"requests failed: {failures}"


def test_out_folder_that_is_not_a_build_is_never_deleted(tmp_path):
    from slides import build_slides

    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("months of work")
    with pytest.raises(RuntimeError, match="not an earlier slide build"):
        build_slides.prepare_out(precious, build_slides.BUILD_MARKER, "slide build")
    assert (precious / "chapter1.tex").read_text() == "months of work"
    # An empty folder, or an earlier build, is fine.
    build_slides.prepare_out(tmp_path / "new", build_slides.BUILD_MARKER, "slide build")
    (tmp_path / "new" / "old.html").write_text("stale")
    build_slides.prepare_out(tmp_path / "new", build_slides.BUILD_MARKER, "slide build")
    assert not (tmp_path / "new" / "old.html").exists()
    assert (tmp_path / "new" / build_slides.BUILD_MARKER).is_file()

"""Every repository path and notebook that the Markdown guides name exists.

Scanned: ``README.md``, ``CONTRIBUTING.md``, ``jobs/README.md``, ``benchmarks/README.md``,
``results/README.md``, ``website/*.md`` and ``slides/*.md``. The other ``results/*.md`` are
records of past runs (the commands and files of their commit), so they are not scanned.
The rules, kept simple on purpose:

1. **Links**: the target of every ``[text](target)`` (and ``![alt](target)``) that is relative
   (no ``scheme:``, not ``#anchor`` only, not ``/absolute``), without its ``#anchor``.
2. **Code**: in inline code and fenced code blocks, every path that starts with a top-level
   folder of the repository (``notebooks/``, ``course_lib/``, ``jobs/``, ``release/``,
   ``results/``, ``benchmarks/``, ``tests/``, ``slides/``, ``website/``, ``binder/``,
   ``requirements/``, ``.github/``, ``.ci/``), e.g. ``python benchmarks/cnn_speed.py``.
3. **Notebook names**: every ``NN_name.ipynb`` anywhere in the text is a file in ``notebooks/``.

A path counts as found when it exists relative to the Markdown file's folder or to the
repository root (the website stages ``jobs/README.md`` and ``results/`` beside its pages), or,
without a suffix, as ``PATH.md`` / ``PATH.ipynb`` (a Sphinx page name in a toctree). A glob
(``*``, ``?``, ``[...]``, ``{a,b}``, ``{1..6}``; ``NN`` stands for two digits) must match at
least one file. Exempt: paths with a placeholder (``<name>``, ``$VAR``, ``...``) and outputs that
builds and jobs write (under ``build/``, ``.venv``, ``results/runs/``).

>>> sorted(named_paths("Run `release/colab.py --check` or see [the guide](jobs/README.md#top)."))
['jobs/README.md', 'release/colab.py']
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "CONTRIBUTING.md", "jobs/README.md", "benchmarks/README.md",
        "results/README.md", "website/*.md", "slides/*.md")
TOP_FOLDERS = ("notebooks", "course_lib", "jobs", "release", "results", "benchmarks", "tests",
               "slides", "website", "binder", "requirements", r"\.github", r"\.ci")
EXEMPT = ("build/", ".venv", "results/runs/")

FENCE = re.compile(r"^(```+|~~~+).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# A path from a top-level folder, not in the middle of another path or word ($REPO/jobs/...).
REPO_PATH = re.compile(
    rf"(?<![\w./$-])(?:{'|'.join(TOP_FOLDERS)})/[^\s`'\",;:()<>|]*")
NOTEBOOK_NAME = re.compile(r"(?<![\w-])\d\d_[A-Za-z0-9_]+\.ipynb\b")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def doc_files() -> list[Path]:
    """The Markdown files this test scans."""
    return sorted({p for pattern in DOCS for p in ROOT.glob(pattern) if p.is_file()})


def named_paths(text: str) -> set[str]:
    """Repository paths that ``text`` (Markdown) names in links and code (rules 1 and 2)."""
    found = set()
    fenced = [m.group(0) for m in FENCE.finditer(text)]
    prose = FENCE.sub("", text)
    code = fenced + [m.group(2) for m in INLINE_CODE.finditer(prose)]
    for target in LINK.findall(INLINE_CODE.sub("", prose)):
        if not SCHEME.match(target) and not target.startswith(("#", "/")):
            found.add(target.split("#", 1)[0])
    for chunk in code:
        found |= {m.group(0).rstrip(".") for m in REPO_PATH.finditer(chunk)}
    return {p for p in found if p}


def expand_braces(pattern: str) -> list[str]:
    """Shell-style brace expansion, one level at a time.

    >>> expand_braces("notebooks/0{1..3}_*.ipynb")
    ['notebooks/01_*.ipynb', 'notebooks/02_*.ipynb', 'notebooks/03_*.ipynb']
    >>> expand_braces("a.{md,txt}")
    ['a.md', 'a.txt']
    """
    match = re.search(r"\{([^{}]*)\}", pattern)
    if not match:
        return [pattern]
    body = match.group(1)
    span = re.fullmatch(r"(\d+)\.\.(\d+)", body)
    if span:
        low, high = int(span.group(1)), int(span.group(2))
        items = [str(i) for i in range(low, high + 1)]
    else:
        items = body.split(",")
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [out for item in items for out in expand_braces(head + item + tail)]


def exists(path: str, base: Path) -> bool:
    """Whether ``path`` (a file, folder or glob) is in the repository; see the module docstring."""
    path = path.rstrip("/")
    for pattern in expand_braces(path.replace("NN", "[0-9][0-9]")):
        for folder in (base, ROOT):
            if any(ch in pattern for ch in "*?["):
                if next(folder.glob(pattern), None) is not None:
                    return True
                continue
            candidate = folder / pattern
            if candidate.exists() or (not candidate.suffix and any(
                    candidate.with_suffix(s).exists() for s in (".md", ".ipynb"))):
                return True
    return False


def is_exempt(path: str) -> bool:
    """A placeholder or a build output, not a path to check (``results/runs/<date>/``)."""
    placeholder = any(mark in path for mark in ("<", ">", "$", "..."))
    return placeholder or path.removeprefix("./").startswith(EXEMPT)


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_named_paths_exist(doc):
    text = doc.read_text(encoding="utf-8")
    missing = sorted(p for p in named_paths(text) if not is_exempt(p) and not exists(p, doc.parent))
    assert missing == [], f"{doc.relative_to(ROOT)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_named_notebooks_exist(doc):
    names = set(NOTEBOOK_NAME.findall(doc.read_text(encoding="utf-8")))
    missing = sorted(n for n in names if not (ROOT / "notebooks" / n).is_file())
    assert missing == [], f"{doc.relative_to(ROOT)} names notebooks that do not exist: {missing}"


def test_the_rules_catch_a_missing_path_and_notebook(tmp_path):
    """The checks themselves: a wrong path, glob or notebook is caught; placeholders are not."""
    text = ("See `course_lib/distributed.py`, `notebooks/9{7..8}_*.ipynb` and 03_mnist_mlp.ipynb;\n"
            "```bash\nsbatch jobs/slurm/run_notebook.sh notebooks/07_gpu_vs_cpu.ipynb\n```\n"
            "Outputs: `results/runs/<date>/`, `build/site/`, [licence](LICENSE).\n")
    paths = named_paths(text)
    assert {"course_lib/distributed.py", "jobs/slurm/run_notebook.sh", "LICENSE"} <= paths
    missing = {p for p in paths if not is_exempt(p) and not exists(p, tmp_path)}
    assert missing == {"course_lib/distributed.py", "notebooks/9{7..8}_*.ipynb"}
    assert exists("notebooks/0{1..6}_*.ipynb", tmp_path) and exists("course_lib/distributed/", tmp_path)
    assert NOTEBOOK_NAME.findall(text) == ["03_mnist_mlp.ipynb", "07_gpu_vs_cpu.ipynb"]

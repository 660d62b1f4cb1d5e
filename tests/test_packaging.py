"""Packaging: one source of dependencies, a lock that matches it, and a course that runs from a wheel.

- ``pyproject.toml`` is the only place dependencies are declared; ``uv.lock`` resolves them for
  Python 3.11-3.13, and ``requirements.txt`` (the learner's install) and ``requirements/*.txt``
  are exported from it (both checked for drift).
- ``course_lib`` built as a wheel and installed, non-editable, into a fresh environment runs
  notebooks 07 and 08 from a folder outside the repository.
- The Colab setup cell's ``%pip`` command installs a local wheel of ``course_lib`` into an
  environment like Colab's without replacing its TensorFlow or Keras.

The fresh environments reuse this environment's packages (TensorFlow and the rest) through a
folder of links that leaves out ``course_lib``: nothing is downloaded, and the only
``course_lib`` they can import is the one installed from the wheel.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

from course_lib import course_files
from helpers.scratch_env import scratch_venv
from release import colab, export_requirements, package_files

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
NOTEBOOK_TIMEOUT_S = 600


def _uv() -> str:
    try:
        return export_requirements.uv_executable()
    except SystemExit as exc:
        pytest.skip(f"{exc} (needed to check the lock)")


# --- one source of dependencies, one lock ------------------------------------------------


def test_lock_matches_pyproject():
    done = subprocess.run([_uv(), "lock", "--locked", "--offline"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"uv.lock is out of date with pyproject.toml; run `make lock`:\n{done.stderr}"


def test_requirement_files_are_exported_from_the_lock():
    _uv()
    stale = export_requirements.run(check=True)
    assert stale == [], f"{stale} drifted from uv.lock; run `python -m release.export_requirements`"


def test_learner_requirements_are_the_lab_export_of_the_lock():
    """``requirements.txt`` at the root is exactly what the export makes of ``uv.lock`` now."""
    _uv()
    assert export_requirements.EXPORTS["requirements.txt"] == ["--extra", "lab"]
    now = export_requirements.exported("requirements.txt", ["--extra", "lab"])
    assert (ROOT / "requirements.txt").read_text(encoding="utf-8") == now, (
        "requirements.txt is stale; run `python -m release.export_requirements` (or `make lock`)")
    assert not (ROOT / "requirements" / "lab.txt").exists(), "requirements.txt replaces it"


def test_requirement_files_pin_every_package_with_hashes():
    for name in export_requirements.EXPORTS:
        text = (ROOT / name).read_text(encoding="utf-8")
        pins = re.findall(r"^([A-Za-z0-9_.-]+)==", text, re.MULTILINE)
        assert "tensorflow" in pins and "keras" in pins, name
        blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text.split("\n", 2)[2])
        unhashed = [b.split()[0] for b in blocks if b.strip() and "--hash=sha256:" not in b]
        assert unhashed == [], f"{name}: no hash for {unhashed}"
    lab = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    for tool in ("pytest", "ruff", "nbqa", "playwright", "nbval"):
        assert not re.search(rf"^{tool}==", lab, re.MULTILINE), f"learners would install {tool}"


def test_lock_covers_every_supported_python():
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    same = lambda spec: spec.replace(" ", "")  # noqa: E731
    assert same(lock["requires-python"]) == same(PYPROJECT["project"]["requires-python"]) == ">=3.11,<3.14"


def test_runtime_dependencies_are_what_the_code_imports():
    """Every third-party module that notebooks and course_lib import is a runtime dependency
    (or, for JAX and PyTorch, the optional extra of that Keras backend)."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    backends = {re.split(r"[<>=~!; \[]", d)[0].lower() for d in extras["jax"] + extras["torch"]}
    assert backends == {"jax", "torch"}
    declared = {re.split(r"[<>=~!; \[]", d)[0].lower() for d in PYPROJECT["project"]["dependencies"]}
    module_to_dist = {"sklearn": "scikit-learn", "IPython": "ipython"}
    std = set(sys.stdlib_module_names) | {"course_lib", "IPython"}
    # Headless runs and JupyterLab's server: they use what comes with Jupyter (checked below).
    jupyter_side = [ROOT / "course_lib" / "runner.py", ROOT / "course_lib" / "lab_contents.py"]
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "course_lib").rglob("*.py")
               if p not in jupyter_side]
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        sources += [c.source for c in nb.cells if c.cell_type == "code"]
    imported = set()
    for text in sources:
        imported |= set(re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", text, re.MULTILINE))
    third_party = {module_to_dist.get(m, m).lower() for m in imported - std}
    assert third_party - declared - backends == set(), (
        f"imported but not declared: {third_party - declared - backends}")
    assert declared - third_party - {"tensorflow"} == set(), (
        f"declared but imported nowhere: {declared - third_party}")  # TF: Keras's backend
    # The notebook runner (make executed, the site, jobs) needs what JupyterLab brings, and
    # papermill for jobs with parameters: the learner's and the jobs' pinned installs hold them.
    ran = {m for p in jupyter_side
           for m in re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", p.read_text(), re.MULTILINE)}
    pinned = (ROOT / "requirements.txt").read_text() + (ROOT / "requirements" / "jobs.txt").read_text()
    for module in sorted(ran - std - declared):
        dist = module.replace("_", "[-_]")
        assert re.search(rf"^{dist}==", pinned, re.MULTILINE), f"{module} is imported, pinned nowhere"


def test_license_file_matches_pyproject():
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_packaged_course_files_match_their_originals():
    assert package_files.run(check=True) == [], "run `make colab` (or `python -m release.package_files`)"
    assert "#SBATCH" in course_files.read_text("train_distributed.sh")
    with pytest.raises(ValueError, match="no packaged course file 'x.md'"):
        course_files.read_text("x.md")


def test_binder_installs_the_learner_requirements():
    """repo2docker reads ``binder/`` and ignores the root's files: ``binder/requirements.txt``
    must point at the root ``requirements.txt`` (a ``-r`` line, which also makes repo2docker
    copy the repository before installing, so the relative path resolves)."""
    lines = [line for line in (ROOT / "binder/requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines == ["-r ../requirements.txt"]
    assert (ROOT / "binder" / lines[0].split()[1]).resolve() == ROOT / "requirements.txt"


# --- the course from a wheel, outside the repository --------------------------------------


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """course_lib built as a wheel, offline (no build isolation)."""
    pytest.importorskip("setuptools", reason="the test extra has setuptools: pip install -e '.[test]'")
    out = tmp_path_factory.mktemp("dist")
    # Build from a clean copy: setuptools' build/ folder can carry files deleted since.
    source = tmp_path_factory.mktemp("source") / "course"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "node_modules", "*.egg-info", "__pycache__", "results"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (found,) = out.glob("course_lib-*.whl")
    return found


def _fresh_env(where: Path) -> Path:
    """A new venv that sees this environment's packages except course_lib; returns its python."""
    if sys.platform == "win32":
        pytest.skip("the package-links view needs symlinks (POSIX)")
    return scratch_venv(where)[0]


def _clean_env() -> dict[str, str]:
    # A fresh Colab runtime: no PYTHONPATH, and Keras on its default backend (TensorFlow).
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "KERAS_BACKEND"}}
    return dict(env, PYTHONNOUSERSITE="1", COURSE_FAST=os.environ.get("COURSE_FAST", "1"))


def _run(python: Path, *args: str, cwd: Path, timeout: int = 300) -> str:
    done = subprocess.run([str(python), *args], cwd=cwd, env=_clean_env(), capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _execute_notebook(python: Path, name: str, cwd: Path) -> None:
    """Execute ``name`` into ``executed/`` with the installed course's own runner."""
    _run(python, "-m", "course_lib.runner", name, "--out", "executed",
         "--timeout", str(NOTEBOOK_TIMEOUT_S), cwd=cwd, timeout=NOTEBOOK_TIMEOUT_S + 60)


@pytest.mark.slow
def test_a_notebook_runs_from_an_installed_wheel_with_its_packaged_files(wheel, tmp_path):
    """What notebooks 07, 08 and 11 need from the package, in a learner's folder without the
    repository; executed by the installed course's own runner (nbval runs the notebooks)."""
    python = _fresh_env(tmp_path)
    _run(python, "-m", "pip", "install", "--no-index", "--timeout", "30", str(wheel), cwd=tmp_path)
    course = tmp_path / "course"  # a learner's folder: the notebook and nothing else
    course.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import course_lib, course_lib.distributed, course_lib.selfscaling\n"
        "from course_lib import course_files\n"
        "print('COURSE_LIB_AT', course_lib.__file__)\n"
        "print('FILES', sorted(len(course_files.read_text(n)) > 100 for n in course_files.ORIGINALS))")]
    nbformat.write(nb, course / "packaged.ipynb")
    _execute_notebook(python, "packaged.ipynb", cwd=course)
    executed = nbformat.read(course / "executed" / "packaged.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in executed.cells[0].outputs)
    assert f"FILES {[True] * len(course_files.ORIGINALS)}" in printed
    location = Path(printed.split("COURSE_LIB_AT", 1)[1].split()[0])
    assert (tmp_path / "env") in location.parents, f"course_lib came from {location}, not the wheel"
    assert ROOT not in location.parents


# --- the Colab setup cell ----------------------------------------------------------------


def _pip_line(source: str) -> str:
    (line,) = [s.strip() for s in source.splitlines() if s.strip().startswith("%pip ")]
    return line.removeprefix("%pip ")


@pytest.mark.colab_runtime
def test_colab_cell_installs_a_wheel_without_touching_tensorflow_or_keras(wheel, tmp_path):
    """The cell's exact pip arguments, with the released archive swapped for a local wheel."""
    cell = nbformat.read(ROOT / "notebooks" / "00_setup_and_environment.ipynb", as_version=4).cells[1]
    args = _pip_line(cell.source)
    assert args == colab.pip_arguments(colab.Repo.load().pip_spec())
    spec = shlex.split(args)[-1]
    python = _fresh_env(tmp_path)
    _run(python, "-m", "pip", *shlex.split(args.replace(f'"{spec}"', str(wheel))), cwd=tmp_path)
    own = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                    cwd=tmp_path).strip())
    installed = sorted(p.name.lower() for p in own.glob("*.dist-info"))
    assert [n for n in installed if n.startswith("course_lib")], installed
    assert not [n for n in installed if n.startswith(("tensorflow", "keras", "numpy"))], installed
    seen = json.loads(_run(python, "-c", (
        "import json, course_lib, keras, tensorflow as tf;"
        "print(json.dumps([course_lib.__file__, keras.__version__, tf.__version__]))"), cwd=tmp_path))
    assert seen[1:] == [metadata.version("keras"), metadata.version("tensorflow")]
    assert str(own) in seen[0]


def test_colab_stack_facts_are_dated_and_pinned():
    from release import colab_stack

    facts = tomllib.loads((ROOT / "release" / "colab_stack.toml").read_text(encoding="utf-8"))
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", facts["source"]["checked"])
    pins = colab_stack.pins()
    assert {"tensorflow", "keras", "numpy"} <= set(pins)
    # The course's lower bounds admit Colab's versions.
    for dep in PYPROJECT["project"]["dependencies"]:
        name = re.split(r"[<>=~!; ]", dep)[0]
        low = re.search(r">=([\d.]+)", dep)
        if name in pins and low:
            as_tuple = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
            assert as_tuple(pins[name]) >= as_tuple(low.group(1)), f"{dep} excludes Colab's {pins[name]}"


def test_no_private_attribute_of_another_library_is_used():
    """`obj._name` only on our own objects (self, cls, our classes); Keras/TF internals change."""
    import ast

    offenders = []
    paths = [*(ROOT / "course_lib").rglob("*.py"),
             *(path for folder in ("benchmarks", "jobs", "release", "slides", "website",
                                   "tests/helpers")
               for path in (ROOT / folder).glob("*.py"))]
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        own = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)} | {"self", "cls"}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id in own)):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
    assert offenders == [], "private attributes of other libraries:\n" + "\n".join(offenders)

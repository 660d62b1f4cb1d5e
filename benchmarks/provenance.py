"""Where a measured number came from: the code that made it, the machine, the load, the command.

Every results file in ``results/`` carries a provenance block (:data:`FIELDS`): a Markdown
table holds it as JSON in an HTML comment, followed by a visible line and a one-paragraph
method; a JSON file under its top-level key ``"provenance"``. A table is stale when the code
it names has changed since. Only the standard library is used::

    python benchmarks/provenance.py status                  # every table: current or STALE
    python benchmarks/provenance.py digest course_lib/models.py --commit 5638d85

A benchmark calls ``run = start(CODE)`` before measuring, then ``report(out, title,
command(__file__), CODE, method, body, started=run)`` to write its table.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
RESULTS = "results"
GIT_TIMEOUT_S = 30
#: Files of these kinds count as code inside a folder; a file named on its own always counts.
CODE_SUFFIXES = (".py", ".ipynb", ".toml", ".sh", ".cfg", ".ini", ".yaml", ".yml")
#: Packages whose versions a provenance block records, when installed.
KEY_PACKAGES = ("keras", "tensorflow", "jax", "torch", "numpy")
FIELDS = ("command", "commit", "code_digest", "code_paths", "machine", "load_start", "load_end",
          "date")
DIRTY = " + uncommitted changes"
CURRENT, STALE, NONE = "current", "STALE (code changed)", "no provenance"
_COMMENT = re.compile(r"<!--\s*provenance\s*(\{.*?\})\s*-->", re.DOTALL)


class GitError(RuntimeError):
    """A git command failed or timed out."""


def _git(args: Sequence[str], root: Path, *, data: bytes | None = None) -> bytes:
    """Run ``git args`` in ``root`` (with a timeout); its stdout, or :class:`GitError`."""
    try:
        done = subprocess.run(["git", *args], cwd=root, input=data, capture_output=True,
                              timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git {' '.join(args)} in {root} failed: {exc}") from None
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)} in {root} failed: "
                       f"{done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def normalize(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Repository-relative POSIX paths, sorted, without duplicates or trailing slashes.

    >>> normalize(["course_lib/selfscaling/", "benchmarks/cnn_speed.py", "./course_lib/models.py"])
    ['benchmarks/cnn_speed.py', 'course_lib/models.py', 'course_lib/selfscaling']
    """
    out = set()
    for p in paths:
        pure = PurePosixPath(Path(p).as_posix())
        if pure.is_absolute() or ".." in pure.parts or str(pure) in ("", "."):
            raise ValueError(f"code path {str(p)!r} must be relative to the repository root, "
                             "e.g. 'course_lib/models.py'")
        out.add(str(pure))
    if not out:
        raise ValueError("no code paths given; name the files or folders the numbers depend on")
    return sorted(out)


def _select(names: Iterable[str], paths: list[str]) -> dict[str, list[str]]:
    """For each path: the files of ``names`` it covers (itself, or code files below it)."""
    chosen: dict[str, list[str]] = {p: [] for p in paths}
    for name in names:
        is_code = name.endswith(CODE_SUFFIXES) and "__pycache__" not in PurePosixPath(name).parts
        for p in paths:
            if name == p or (name.startswith(p + "/") and is_code):
                chosen[p].append(name)
    return chosen


def code_files(paths: Iterable[str | os.PathLike], *, commit: str | None = None,
               root: Path = ROOT, missing_ok: bool = False) -> dict[str, bytes | None]:
    """The contents of the code files ``paths`` cover, in the working tree or at ``commit``.

    A folder covers its code files (:data:`CODE_SUFFIXES`, not ``__pycache__``) at any depth, a
    file itself; in a git checkout the working tree means the files git sees (not ignored ones).
    A path that covers nothing raises FileNotFoundError, or with ``missing_ok`` maps to None.
    """
    root, wanted = Path(root), normalize(paths)
    blobs: dict[str, bytes] = {}
    if commit is not None:
        listing = _git(["ls-tree", "-r", "-z", commit, "--", *wanted], root)
        entries = [e.split(b"\t", 1) for e in listing.split(b"\0") if e]
        shas = {path.decode(): info.split()[2].decode() for info, path in entries
                if info.split()[1] == b"blob"}
        picked = _select(shas, wanted)
        names = sorted({n for files in picked.values() for n in files})
        if names:  # one git process reads every blob
            out = _git(["cat-file", "--batch"], root,
                       data="".join(f"{shas[n]}\n" for n in names).encode())
            pos = 0
            for name in names:
                header_end = out.index(b"\n", pos)
                size = int(out[pos:header_end].split()[2])
                blobs[name] = out[header_end + 1:header_end + 1 + size]
                pos = header_end + 1 + size + 1
    else:
        try:
            listing = _git(["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
                            *wanted], root)
            candidates = [n.decode() for n in listing.split(b"\0") if n]
        except GitError:  # not a git checkout: every file on disk
            candidates = [f.relative_to(root).as_posix() for p in wanted
                          for f in ([root / p] if (root / p).is_file() else (root / p).rglob("*"))]
        picked = _select([n for n in candidates if (root / n).is_file()], wanted)  # not deleted
        blobs = {n: (root / n).read_bytes() for files in picked.values() for n in files}
    missing = [p for p in wanted if not picked[p]]
    if missing and not missing_ok:
        where = f"at commit {commit}" if commit else f"in {root}"
        raise FileNotFoundError(f"code path(s) {missing} cover no file {where}; check the "
                                "spelling (paths are relative to the repository root)")
    return {**blobs, **{p: None for p in missing}}


def code_digest(paths: Iterable[str | os.PathLike], *, commit: str | None = None,
                root: Path = ROOT, missing_ok: bool = False) -> str:
    """sha256 (first 12 hex digits) over the names and contents of :func:`code_files`.

    >>> d = code_digest(["benchmarks/provenance.py"])
    >>> len(d), d == code_digest(["benchmarks/provenance.py"])
    (12, True)
    """
    digest = hashlib.sha256()
    for name, content in sorted(code_files(paths, commit=commit, root=root,
                                           missing_ok=missing_ok).items()):
        body = b"<missing>" if content is None else hashlib.sha256(content).digest()
        digest.update(name.encode() + b"\0" + body + b"\n")
    return digest.hexdigest()[:12]


def changed_files(paths: Iterable[str | os.PathLike], commit: str, *, root: Path = ROOT
                  ) -> list[str]:
    """The files ``paths`` cover that differ (or exist on one side only) between ``commit`` and now."""
    then = code_files(paths, commit=commit, root=root, missing_ok=True)
    now = code_files(paths, root=root, missing_ok=True)
    return sorted(n for n in set(then) | set(now) if then.get(n) != now.get(n))


def commit_label(paths: Iterable[str | os.PathLike], *, root: Path = ROOT) -> str:
    """``git rev-parse --short HEAD``, plus :data:`DIRTY` when ``paths`` have uncommitted
    changes; "unknown" outside a git checkout."""
    try:
        head = _git(["rev-parse", "--short", "HEAD"], root).decode().strip()
        dirty = _git(["status", "--porcelain", "--untracked-files=all", "--",
                      *normalize(paths)], root).strip()
    except GitError:
        return "unknown"
    return head + (DIRTY if dirty else "")


def _read(path: str) -> str:
    return Path(path).read_text(errors="replace") if Path(path).exists() else ""


def machine_info() -> dict:
    """CPU model, usable cores, RAM, OS, Python, key package versions (from their metadata,
    nothing imported) and the Keras backend (the loaded Keras's, else ``KERAS_BACKEND``).

    >>> sorted(machine_info())
    ['cores', 'cpu', 'keras_backend', 'memory_gib', 'os', 'packages', 'python']
    """
    cpu = re.search(r"^model name\s*:\s*(.+?)\s*$", _read("/proc/cpuinfo"), re.M | re.I)
    memory = re.search(r"^MemTotal:\s+(\d+) kB", _read("/proc/meminfo"), re.MULTILINE)
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")  # not on macOS
             else os.cpu_count() or 1)
    packages = {}
    for name in KEY_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            packages[name] = metadata.version(name)
    keras = sys.modules.get("keras")  # the backend in use, when Keras is loaded already
    backend = (keras.backend.backend() if keras is not None and hasattr(keras, "backend")
               else os.environ.get("KERAS_BACKEND"))
    return {"cpu": (cpu.group(1) if cpu else None) or platform.processor() or platform.machine()
            or "unknown CPU", "cores": cores,
            "memory_gib": round(int(memory.group(1)) / 2**20, 1) if memory else None,
            "os": f"{platform.system()} {platform.release()}".strip(),
            "python": platform.python_version(), "packages": packages, "keras_backend": backend}


def machine_summary(machine: dict) -> str:
    """One line for a machine dict (see :func:`machine_info`); missing fields are left out.

    >>> machine_summary({"cpu": "AMD EPYC", "cores": 2, "memory_gib": 23.5, "os": "Linux 6.1",
    ...                  "python": "3.11.7", "packages": {"keras": "3.15.1"},
    ...                  "keras_backend": "jax"})
    'AMD EPYC, 2 cores, 23.5 GiB RAM, Linux 6.1, Python 3.11.7, keras 3.15.1, Keras backend jax'
    """
    m = machine
    parts = [m.get("cpu") or "unknown CPU", m.get("cores") and f"{m['cores']} cores",
             m.get("memory_gib") and f"{m['memory_gib']:g} GiB RAM", m.get("os"),
             m.get("python") and f"Python {m['python']}",
             *(f"{k} {v}" for k, v in (m.get("packages") or {}).items()),
             m.get("keras_backend") and f"Keras backend {m['keras_backend']}"]
    return ", ".join(p for p in parts if p)


def load_average() -> list[float]:
    """The 1, 5 and 15-minute load averages, rounded (zeros where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # Windows
        return [0.0, 0.0, 0.0]


def start(code_paths: Sequence[str], *, root: Path = ROOT) -> dict:
    """Commit, code digest, load and time before measuring: pass it as ``started=`` to
    :func:`block` so the block names the code as it was when the run began."""
    return {"commit": commit_label(code_paths, root=root),
            "code_digest": code_digest(code_paths, root=root), "code_paths": normalize(code_paths),
            "load_start": load_average(),
            "date": datetime.now().astimezone().isoformat(timespec="minutes")}


def block(command: str, code_paths: Sequence[str], *, started: dict | None = None,
          root: Path = ROOT, **extra) -> dict:
    """The provenance of a results file written now: :data:`FIELDS`, then ``extra``.

    Without ``started`` (from :func:`start`) everything is taken now; when the code changed
    during the run, the commit says so. A JSON results file keeps it under ``"provenance"``.

    >>> b = block("python benchmarks/x.py", ["benchmarks/provenance.py"])
    >>> list(b) == list(FIELDS) and len(b["code_digest"]) == 12
    True
    """
    if not command or not isinstance(command, str):
        raise ValueError(f"command must be the command line that wrote the file, not {command!r}")
    begun = started if started is not None else start(code_paths, root=root)
    commit = begun["commit"]
    if normalize(code_paths) != begun["code_paths"]:
        raise ValueError(f"code paths {normalize(code_paths)} differ from those at the start "
                         f"{begun['code_paths']}; pass the same list to start() and here")
    if started is not None and code_digest(code_paths, root=root) != begun["code_digest"]:
        commit += " (code changed during the run)"
    return {"command": command, "commit": commit, "code_digest": begun["code_digest"],
            "code_paths": begun["code_paths"], "machine": machine_info(),
            "load_start": begun["load_start"], "load_end": load_average(),
            "date": begun["date"], **extra}


json_block = block  # the block under a JSON results file's top-level "provenance" key


def render_markdown(provenance: dict, method: str) -> str:
    """The Markdown header of a table: the hidden JSON, the visible line, the method.

    >>> text = render_markdown({"command": "python b.py", "commit": "abc1234",
    ...     "code_digest": "0123456789ab", "code_paths": ["b.py"], "machine": {"cpu": "CPU X"},
    ...     "load_start": [0.5], "load_end": [1.25], "date": "2026-12-02T17:48+00:00"},
    ...     "Each model trains once.")
    >>> print(text.split("-->\\n")[1])
    Measured 2026-12-02 at commit abc1234 (code digest 0123456789ab) on CPU X, load 0.50-1.25, with `python b.py`.
    <BLANKLINE>
    **Method.** Each model trains once.
    >>> parse_markdown(text)["commit"]
    'abc1234'
    """
    missing = [f for f in FIELDS if f not in provenance]
    if missing:
        raise ValueError(f"provenance block lacks {missing}; build it with block()")
    if not method.strip() or "\n\n" in method.strip():
        raise ValueError("method must be one paragraph of text (no blank lines)")
    # JSON in an HTML comment must not contain "--" (it could end the comment early)
    hidden = "{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}"
                                 for k, v in provenance.items()) + "\n}"
    hidden = hidden.replace("--", "-\\u002d")
    load = [provenance.get(k) for k in ("load_start", "load_end")]
    load = "-".join("?" if not v else f"{v[0] if isinstance(v, list) else v:.2f}" for v in load)
    visible = (f"Measured {str(provenance['date'])[:10]} at commit {provenance['commit']} "
               f"(code digest {provenance['code_digest']}) on "
               f"{machine_summary(provenance['machine'])}, load {load}, "
               f"with `{provenance['command']}`.")
    return f"<!-- provenance\n{hidden}\n-->\n{visible}\n\n**Method.** {method.strip()}"


def markdown_header(command: str, code_paths: Sequence[str], method: str, *,
                    started: dict | None = None, root: Path = ROOT, **extra) -> str:
    """:func:`render_markdown` of a :func:`block` made now: put it right below the title."""
    return render_markdown(block(command, code_paths, started=started, root=root, **extra),
                           method)


def command(script: str | os.PathLike, argv: Sequence[str] | None = None) -> str:
    """The command line that runs the benchmark ``script`` (e.g. ``__file__``) with ``argv``
    (default: this process's arguments).

    >>> command("/any/where/benchmarks/cnn_speed.py", ["--fast"])
    'python benchmarks/cnn_speed.py --fast'
    """
    args = sys.argv[1:] if argv is None else argv
    return " ".join(["python", f"benchmarks/{Path(script).name}", *args])


def parser(doc: str, out: str | None = None) -> argparse.ArgumentParser:
    """A benchmark's argument parser, described by ``doc``'s first paragraph; with ``out``, an
    ``--out`` option whose default is ``results/OUT``."""
    made = argparse.ArgumentParser(description=" ".join(doc.strip().split("\n\n")[0].split()))
    if out is not None:
        made.add_argument("--out", default=str(ROOT / RESULTS / out),
                          help=f"the Markdown file to write (default results/{out}), or - to "
                               "print only")
    return made


def write(out: str | os.PathLike, text: str) -> None:
    """Print ``text`` and, unless ``out`` is "-", write it to the file ``out``."""
    print(text)
    if str(out) != "-":
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text, encoding="utf-8")
        print(f"wrote {out}")


def report(out: str | os.PathLike, title: str, command: str, code_paths: Sequence[str],
           method: str, body: Sequence[str], *, started: dict | None = None, **extra) -> str:
    """Write a results table (see :func:`write`): the title, the provenance header, then the
    blocks of ``body``, a blank line between each two; return its text."""
    header = markdown_header(command, code_paths, method, started=started, **extra)
    text = "\n\n".join([f"# {title}", header, *body]) + "\n"
    write(out, text)
    return text


def parse_markdown(text: str) -> dict | None:
    """The provenance block in Markdown ``text``, or None when it has none."""
    found = _COMMENT.search(text)
    return json.loads(found.group(1)) if found else None


def read_provenance(path: str | os.PathLike) -> dict | None:
    """The provenance block of a results file (.md or .json), or None when it has none;
    ValueError, naming the file, when the block is there but cannot be read."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            data = json.loads(text)
            found = data.get("provenance") if isinstance(data, dict) else None
        else:
            found = parse_markdown(text)
    except ValueError as exc:
        raise ValueError(f"{path}: its provenance cannot be read ({exc})") from None
    if found is not None and not (isinstance(found, dict) and "code_digest" in found
                                  and found.get("code_paths")):
        raise ValueError(f"{path}: its provenance block lacks code_digest or code_paths")
    return found


def status(root: Path = ROOT) -> list[dict]:
    """Per results file (.md, .json; not README.md): ``file``, ``recorded`` and ``current``
    digest, ``state`` (:data:`CURRENT`, :data:`STALE` or :data:`NONE`), ``command``, and
    ``changed``: for a stale table whose commit git knows, the files changed since (else None).
    """
    folder, rows = Path(root) / RESULTS, []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if not path.is_file() or path.suffix not in (".md", ".json") or path.name == "README.md":
            continue
        row = {"file": path.relative_to(root).as_posix(), "recorded": "-", "current": "-",
               "state": NONE, "command": "-", "changed": None}
        try:
            found = read_provenance(path)
        except ValueError as exc:
            found, row["state"] = None, f"{NONE} ({exc})"
        if found is not None:
            now = code_digest(found["code_paths"], root=root, missing_ok=True)
            row.update(recorded=found["code_digest"], current=now, command=found.get("command", "-"),
                       state=CURRENT if now == found["code_digest"] else STALE)
            commit = re.match(r"[0-9a-f]{7,40}\b", str(found.get("commit", "")))
            if row["state"] == STALE and commit:
                with contextlib.suppress(GitError):  # a commit this clone does not have
                    row["changed"] = changed_files(found["code_paths"], commit.group(0), root=root)
        rows.append(row)
    return rows


def format_status(rows: Sequence[dict]) -> str:
    """``status()`` as aligned text, one line per table, and the files changed under a stale one."""
    lines = [("file", "recorded", "current", "status")]
    lines += [(r["file"], r["recorded"], r["current"], r["state"]) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    out = []
    for line, row in zip(lines, [{}, *rows], strict=True):
        out.append("  ".join(c.ljust(w) for c, w in zip(line[:3], widths, strict=True)) + "  " + line[3])
        if names := row.get("changed"):
            more = f" and {len(names) - 6} more" if len(names) > 6 else ""
            out.append(f"    changed since: {', '.join(names[:6])}{more}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None, *, root: Path = ROOT) -> int:
    cli = parser(__doc__)
    sub = cli.add_subparsers(dest="action", required=True)
    sub.add_parser("status", help="every table in results/: current, STALE or no provenance")
    digest = sub.add_parser("digest", help="the code digest of files and folders")
    digest.add_argument("paths", nargs="+", help="paths relative to the repository root")
    digest.add_argument("--commit", default=None, help="as at this commit (default: working tree)")
    args = cli.parse_args(argv)
    if args.action == "digest":
        print(code_digest(args.paths, commit=args.commit, root=root))
        return 0
    rows = status(root)
    print(format_status(rows))
    stale = sum(r["state"] != CURRENT for r in rows)
    print(f"\n{len(rows) - stale} of {len(rows)} tables current. Regenerate a table with the "
          "command in its provenance line (results/README.md lists them).")
    return 0  # a report, never a failure: stale tables are information


if __name__ == "__main__":
    sys.exit(main())

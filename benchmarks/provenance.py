"""Where a measured number came from: the code that made it, the machine, the load, the command.

Every results file in ``results/`` carries a provenance block: the command that wrote it, the
commit it ran at, a digest of the code it measured (and the list of files that digest covers),
the machine, the load average at the start and the end, and the date. A Markdown table keeps
it in an HTML comment holding JSON (invisible on the website and in notebooks), followed by a
visible line and a one-paragraph method; a JSON results file keeps it under the top-level key
``"provenance"``. A table is stale when the code it names has changed since::

    python benchmarks/provenance.py status                  # every table: current or STALE
    python benchmarks/provenance.py digest course_lib/models.py --commit 5638d85

A benchmark script uses it like this (``start`` before measuring, the header when writing)::

    import provenance
    CODE = ["benchmarks/cnn_speed.py", "course_lib/models.py"]
    run = provenance.start(CODE)
    ...                                                     # measure
    text = provenance.markdown_header(command, CODE, method, started=run)

Only the standard library is used: ``status`` works without the course's environment.
"""

from __future__ import annotations

import argparse
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


def _in_git(root: Path) -> bool:
    try:
        return _git(["rev-parse", "--is-inside-work-tree"], root).strip() == b"true"
    except GitError:
        return False


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


def _is_code(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return name.endswith(CODE_SUFFIXES) and "__pycache__" not in parts


def _select(names: Iterable[str], paths: list[str]) -> dict[str, list[str]]:
    """For each path: the files of ``names`` it covers (itself, or code files below it)."""
    chosen: dict[str, list[str]] = {p: [] for p in paths}
    for name in names:
        for p in paths:
            if name == p or (name.startswith(p + "/") and _is_code(name)):
                chosen[p].append(name)
    return chosen


def code_files(paths: Iterable[str | os.PathLike], *, commit: str | None = None,
               root: Path = ROOT, missing_ok: bool = False) -> dict[str, bytes | None]:
    """The contents of the code files ``paths`` cover, in the working tree or at ``commit``.

    A folder covers its code files (:data:`CODE_SUFFIXES`, not ``__pycache__``) at any depth;
    a file covers itself. In a git checkout the working tree means the files git sees (tracked
    and untracked, not ignored). A path that covers nothing raises FileNotFoundError, or with
    ``missing_ok`` appears with the content None.
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
        if _in_git(root):
            listing = _git(["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
                            *wanted], root)
            candidates = [n.decode() for n in listing.split(b"\0") if n]
        else:
            candidates = [f.relative_to(root).as_posix() for p in wanted
                          for f in ([root / p] if (root / p).is_file() else (root / p).rglob("*"))]
        candidates = [n for n in candidates if (root / n).is_file()]  # not deleted ones
        picked = _select(candidates, wanted)
        blobs = {n: (root / n).read_bytes() for files in picked.values() for n in files}
    missing = [p for p in wanted if not picked[p]]
    if missing and not missing_ok:
        where = f"at commit {commit}" if commit else f"in {root}"
        raise FileNotFoundError(f"code path(s) {missing} cover no file {where}; check the "
                                "spelling (paths are relative to the repository root)")
    return {**blobs, **{p: None for p in missing}}


def code_digest(paths: Iterable[str | os.PathLike], *, commit: str | None = None,
                root: Path = ROOT, missing_ok: bool = False) -> str:
    """sha256 (first 12 hex digits) over the names and contents of the files ``paths`` cover.

    ``commit`` reads them as they were at that commit (``git ls-tree`` / ``git cat-file``);
    the default is the working tree. See :func:`code_files` for which files count.

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
    """The files ``paths`` cover whose content differs between ``commit`` and the working tree.

    Files present on one side only count as changed.
    """
    then = code_files(paths, commit=commit, root=root, missing_ok=True)
    now = code_files(paths, root=root, missing_ok=True)
    return sorted(n for n in set(then) | set(now) if then.get(n) != now.get(n))


def commit_label(paths: Iterable[str | os.PathLike], *, root: Path = ROOT) -> str:
    """``git rev-parse --short HEAD``, plus " + uncommitted changes" when ``paths`` are dirty.

    "unknown" outside a git checkout.
    """
    try:
        head = _git(["rev-parse", "--short", "HEAD"], root).decode().strip()
        dirty = _git(["status", "--porcelain", "--untracked-files=all", "--",
                      *normalize(paths)], root).strip()
    except GitError:
        return "unknown"
    return head + (DIRTY if dirty else "")


def machine_info() -> dict:
    """CPU model, usable cores, RAM, OS, Python and key package versions of this machine.

    Package versions come from their metadata; nothing is imported. ``keras_backend`` is the
    backend of the Keras loaded in this process, else ``KERAS_BACKEND``, else None.

    >>> sorted(machine_info())
    ['cores', 'cpu', 'keras_backend', 'memory_gib', 'os', 'packages', 'python']
    """
    cpu = None
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    memory = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"^MemTotal:\s+(\d+) kB", meminfo.read_text(), re.MULTILINE)
        memory = round(int(found.group(1)) / 2**20, 1) if found else None
    packages = {}
    for name in KEY_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    keras = sys.modules.get("keras")  # the backend in use, when Keras is loaded already
    backend = (keras.backend.backend() if keras is not None and hasattr(keras, "backend")
               else os.environ.get("KERAS_BACKEND"))  # None: no Keras in this process
    return {"cpu": cpu or platform.processor() or platform.machine() or "unknown CPU",
            "cores": cores, "memory_gib": memory,
            "os": f"{platform.system()} {platform.release()}".strip(),
            "python": platform.python_version(), "packages": packages, "keras_backend": backend}


def machine_summary(machine: dict) -> str:
    """One line for a machine dict (see :func:`machine_info`); missing fields are left out.

    >>> machine_summary({"cpu": "AMD EPYC", "cores": 2, "memory_gib": 23.5, "os": "Linux 6.1",
    ...                  "python": "3.11.7", "packages": {"keras": "3.15.1"},
    ...                  "keras_backend": "jax"})
    'AMD EPYC, 2 cores, 23.5 GiB RAM, Linux 6.1, Python 3.11.7, keras 3.15.1, Keras backend jax'
    """
    parts = [machine.get("cpu") or "unknown CPU"]
    if machine.get("cores"):
        parts.append(f"{machine['cores']} cores")
    if machine.get("memory_gib"):
        parts.append(f"{machine['memory_gib']:g} GiB RAM")
    if machine.get("os"):
        parts.append(machine["os"])
    if machine.get("python"):
        parts.append(f"Python {machine['python']}")
    parts += [f"{k} {v}" for k, v in (machine.get("packages") or {}).items()]
    if machine.get("keras_backend"):
        parts.append(f"Keras backend {machine['keras_backend']}")
    return ", ".join(parts)


def load_average() -> list[float]:
    """The 1, 5 and 15-minute load averages, rounded (zeros where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # Windows
        return [0.0, 0.0, 0.0]


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="minutes")


def start(code_paths: Sequence[str], *, root: Path = ROOT) -> dict:
    """What to note before measuring: commit, code digest, load average and time.

    Pass it as ``started=`` to :func:`block`, :func:`markdown_header` or :func:`json_block`:
    the block then names the code as it was when the run began.
    """
    return {"commit": commit_label(code_paths, root=root),
            "code_digest": code_digest(code_paths, root=root),
            "code_paths": normalize(code_paths), "load_start": load_average(), "date": _now()}


def block(command: str, code_paths: Sequence[str], *, started: dict | None = None,
          root: Path = ROOT, **extra) -> dict:
    """The provenance of a results file written now: :data:`FIELDS`, then ``extra``.

    Without ``started`` (from :func:`start`) the commit, digest, start load and date are taken now. When the code
    changed while the run went on, the commit says so.

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


def _load_range(provenance: dict) -> str:
    def one(load):
        return "?" if not load else f"{(load[0] if isinstance(load, list) else load):.2f}"
    return f"{one(provenance.get('load_start'))}-{one(provenance.get('load_end'))}"


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
    visible = (f"Measured {str(provenance['date'])[:10]} at commit {provenance['commit']} "
               f"(code digest {provenance['code_digest']}) on "
               f"{machine_summary(provenance['machine'])}, load {_load_range(provenance)}, "
               f"with `{provenance['command']}`.")
    return f"<!-- provenance\n{hidden}\n-->\n{visible}\n\n**Method.** {method.strip()}"


def markdown_header(command: str, code_paths: Sequence[str], method: str, *,
                    started: dict | None = None, root: Path = ROOT, **extra) -> str:
    """:func:`render_markdown` of a :func:`block` made now: put it right below the title."""
    return render_markdown(block(command, code_paths, started=started, root=root, **extra),
                           method)


def json_block(command: str, code_paths: Sequence[str], *, started: dict | None = None,
               root: Path = ROOT, **extra) -> dict:
    """The block for a JSON results file's top-level ``"provenance"`` key (see :func:`block`)."""
    return block(command, code_paths, started=started, root=root, **extra)


def parse_markdown(text: str) -> dict | None:
    """The provenance block in Markdown ``text``, or None when it has none."""
    found = _COMMENT.search(text)
    return json.loads(found.group(1)) if found else None


def read_provenance(path: str | os.PathLike) -> dict | None:
    """The provenance block of a results file (.md or .json), or None when it has none.

    Raises ValueError, naming the file, when the block is there but cannot be read.
    """
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


def tables(root: Path = ROOT) -> list[Path]:
    """The results files under ``root/results`` (.md and .json, the README index excepted)."""
    folder = Path(root) / RESULTS
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".md", ".json")
                  and p.name != "README.md") if folder.is_dir() else []


def status(root: Path = ROOT) -> list[dict]:
    """Each table's recorded code digest against its code's digest now, and the verdict.

    Every row has ``file``, ``recorded``, ``current``, ``state`` (:data:`CURRENT`,
    :data:`STALE` or :data:`NONE`), ``command`` and, for a stale table whose commit git knows,
    ``changed``: the files changed since (else None).
    """
    rows = []
    for path in tables(root):
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
                try:
                    row["changed"] = changed_files(found["code_paths"], commit.group(0), root=root)
                except GitError:  # a commit this clone does not have
                    pass
        rows.append(row)
    return rows


def format_status(rows: Sequence[dict]) -> str:
    """``status()`` as aligned text, one line per table."""
    head = ("file", "recorded", "current", "status")
    lines = [head] + [(r["file"], r["recorded"], r["current"], r["state"]) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    out = []
    for line, row in zip(lines, [None, *rows], strict=True):
        out.append("  ".join(c.ljust(w) for c, w in zip(line[:3], widths, strict=True))
                   + "  " + line[3])
        if row and row.get("changed"):
            names = row["changed"]
            more = f" and {len(names) - 6} more" if len(names) > 6 else ""
            out.append(f"    changed since: {', '.join(names[:6])}{more}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None, *, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("status", help="every table in results/: current, STALE or no provenance")
    digest = sub.add_parser("digest", help="the code digest of files and folders")
    digest.add_argument("paths", nargs="+", help="paths relative to the repository root")
    digest.add_argument("--commit", default=None, help="as at this commit (default: working tree)")
    args = parser.parse_args(argv)
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

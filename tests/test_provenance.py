"""Results provenance (``benchmarks/provenance.py``): code digests, the blocks, and staleness.

Each test builds a small git repository in ``tmp_path`` (git commands with timeouts) with code
files and a ``results/`` folder, so no real benchmark runs.
"""

from __future__ import annotations

import doctest
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.org",
                           "-c", "commit.gpgsign=false", *args], cwd=repo, capture_output=True,
                          text=True, timeout=30, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with two code folders, a notebook, a cache file and an empty results/."""
    files = {"pkg/model.py": "WIDTH = 10\n", "pkg/sub/train.py": "EPOCHS = 3\n",
             "pkg/notes.md": "not code\n", "other/speed.py": "BATCH = 32\n",
             "notebooks/01.ipynb": '{"cells": []}\n', ".gitignore": "__pycache__/\n"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "results").mkdir()
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "code")
    return tmp_path


def write_table(prov, repo: Path, name: str, code_paths: list[str], *, commit: str | None = None):
    """A results table stamped with the digest of ``code_paths`` (now, or at ``commit``)."""
    block = prov.block("python bench.py", code_paths, root=repo)
    if commit is not None:
        block.update(commit=commit, code_digest=prov.code_digest(code_paths, commit=commit, root=repo))
    path = repo / "results" / name
    if path.suffix == ".json":
        path.write_text(json.dumps({"provenance": block, "rows": [1, 2]}), encoding="utf-8")
    else:
        path.write_text(f"# A table\n\n{prov.render_markdown(block, 'One model, one seed.')}\n\n"
                        "| a | b |\n|---|---|\n| 1 | 2 |\n", encoding="utf-8")
    return block


def states(prov, repo: Path) -> dict[str, str]:
    return {row["file"]: row["state"] for row in prov.status(repo)}


def test_module_examples(prov):
    failed, _ = doctest.testmod(prov, optionflags=doctest.ELLIPSIS)
    assert failed == 0


def test_a_changed_code_file_flips_its_table_to_stale_and_leaves_the_other_current(prov, repo):
    write_table(prov, repo, "model.md", ["pkg"])
    write_table(prov, repo, "speed.json", ["other/speed.py"])
    (repo / "results" / "diary.md").write_text("# Notes\n\nno block\n", encoding="utf-8")
    assert states(prov, repo) == {"results/diary.md": prov.NONE, "results/model.md": prov.CURRENT,
                                  "results/speed.json": prov.CURRENT}
    (repo / "pkg" / "sub" / "train.py").write_text("EPOCHS = 4\n", encoding="utf-8")
    assert states(prov, repo)["results/model.md"] == prov.STALE  # uncommitted edits count
    git(repo, "commit", "-q", "-am", "more epochs")
    after = states(prov, repo)
    assert after["results/model.md"] == prov.STALE and after["results/speed.json"] == prov.CURRENT


def test_digest_at_a_commit_matches_the_clean_working_tree_and_tracks_content(prov, repo):
    first = git(repo, "rev-parse", "--short", "HEAD")
    assert prov.code_digest(["pkg"], commit=first, root=repo) == prov.code_digest(["pkg"], root=repo)
    (repo / "pkg" / "__pycache__").mkdir()
    (repo / "pkg" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"\0compiled")
    (repo / "pkg" / "notes.md").write_text("prose is not code\n", encoding="utf-8")
    assert prov.code_digest(["pkg/"], root=repo) == prov.code_digest(["pkg"], commit=first, root=repo)
    (repo / "pkg" / "model.py").write_text("WIDTH = 20\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "wider")
    assert prov.code_digest(["pkg"], root=repo) != prov.code_digest(["pkg"], commit=first, root=repo)
    assert prov.code_digest(["other"], root=repo) == prov.code_digest(["other"], commit=first, root=repo)
    # a renamed file with the same content changes the digest
    git(repo, "mv", "other/speed.py", "other/fast.py")
    assert prov.code_digest(["other"], root=repo) != prov.code_digest(["other"], commit=first, root=repo)


def test_a_table_stamped_at_an_old_commit_is_stale_after_the_code_changed(prov, repo):
    old = git(repo, "rev-parse", "--short", "HEAD")
    (repo / "other" / "speed.py").write_text("BATCH = 64\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "bigger batch")
    write_table(prov, repo, "speed.md", ["other/speed.py"], commit=old)
    write_table(prov, repo, "model.md", ["pkg", "notebooks"], commit=old)
    assert states(prov, repo) == {"results/model.md": prov.CURRENT, "results/speed.md": prov.STALE}
    assert prov.read_provenance(repo / "results" / "speed.md")["commit"] == old


def test_commit_label_says_when_the_measured_code_is_dirty(prov, repo):
    head = git(repo, "rev-parse", "--short", "HEAD")
    assert prov.commit_label(["pkg"], root=repo) == head
    (repo / "pkg" / "new.py").write_text("X = 1\n", encoding="utf-8")  # untracked code counts
    assert prov.commit_label(["pkg"], root=repo) == head + prov.DIRTY
    assert prov.commit_label(["other"], root=repo) == head


def test_blocks_read_back_from_markdown_and_json(prov, repo):
    run = prov.start(["pkg"], root=repo)
    block = prov.json_block("python bench.py --mode full", ["pkg"], started=run, root=repo,
                            extra_digest="abc")
    assert list(block)[:len(prov.FIELDS)] == list(prov.FIELDS) and block["extra_digest"] == "abc"
    assert block["machine"]["cores"] >= 1 and len(block["load_end"]) == 3
    text = prov.markdown_header("python bench.py --mode full", ["pkg"], "Three seeds.",
                                started=run, root=repo)
    assert "<!--" in text and "--mode" not in text.split("-->")[0]  # "--" would end the comment
    assert "with `python bench.py --mode full`." in text and "\n**Method.** Three seeds." in text
    assert prov.parse_markdown(text)["command"] == "python bench.py --mode full"
    (repo / "pkg" / "model.py").write_text("WIDTH = 11\n", encoding="utf-8")
    later = prov.block("python bench.py", ["pkg"], started=run, root=repo)
    assert later["commit"].endswith("(code changed during the run)")


def test_bad_input_is_refused_with_the_fix(prov, repo):
    with pytest.raises(ValueError, match="relative to the repository root"):
        prov.code_digest(["/etc/passwd"], root=repo)
    with pytest.raises(FileNotFoundError, match=r"\['pkg/nope.py'\] cover no file"):
        prov.code_digest(["pkg/nope.py"], root=repo)
    assert len(prov.code_digest(["pkg/nope.py"], root=repo, missing_ok=True)) == 12
    with pytest.raises(ValueError, match="one paragraph"):
        prov.render_markdown(prov.block("python b.py", ["pkg"], root=repo), "one\n\ntwo")
    (repo / "results" / "broken.md").write_text("<!-- provenance {not json} -->\n", encoding="utf-8")
    assert states(prov, repo)["results/broken.md"].startswith(prov.NONE)


def test_status_command_exits_zero_and_lists_every_table(prov, repo, capsys):
    write_table(prov, repo, "model.md", ["pkg"])
    (repo / "results" / "README.md").write_text("# Index\n", encoding="utf-8")  # not a table
    (repo / "results" / "plain.md").write_text("# Plain\n", encoding="utf-8")
    (repo / "pkg" / "model.py").write_text("WIDTH = 12\n", encoding="utf-8")
    assert prov.main(["status"], root=repo) == 0
    out = capsys.readouterr().out
    assert not any(line.startswith("results/README.md") for line in out.splitlines())
    assert any(line.startswith("results/model.md") and line.endswith(prov.STALE)
               for line in out.splitlines())
    assert any(line.startswith("results/plain.md") and line.endswith(prov.NONE)
               for line in out.splitlines())
    assert "    changed since: pkg/model.py\n" in out  # what made it stale

"""The measured tables in ``results/``: each names the code that made it, truthfully, and nothing else.

- every table has a provenance block whose code digest is the digest of its code paths at the
  commit it names (checked with git where that commit is in the history);
- ``results/README.md`` indexes every table; no table narrates how it was made;
- notebook 11's self-scaling results record the self-scaling code digest, the packaged copy is
  the same file, and results made with other self-scaling code are refused.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def tables() -> list[Path]:
    return sorted(p for p in RESULTS.iterdir() if p.suffix in (".md", ".json") and p.name != "README.md")


def in_history(commit: str) -> bool:
    done = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT,
                          capture_output=True, timeout=30, check=False)
    return done.returncode == 0


@pytest.mark.parametrize("path", tables(), ids=lambda p: p.name)
def test_every_table_names_the_code_that_made_it(prov, path):
    block = prov.read_provenance(path)
    assert block is not None, f"{path.name} has no provenance block; see benchmarks/provenance.py"
    assert all(field in block for field in prov.FIELDS), sorted(set(prov.FIELDS) - set(block))
    assert re.fullmatch(r"[0-9a-f]{12}", block["code_digest"]) and block["code_paths"]
    commit = block["commit"].split()[0]
    if not in_history(commit):
        pytest.skip(f"commit {commit} is not in this clone's history")
    if prov.DIRTY not in block["commit"]:
        assert prov.code_digest(block["code_paths"], commit=commit, root=ROOT) == block["code_digest"]
    if path.suffix == ".md":
        text = path.read_text(encoding="utf-8")
        assert f"at commit {block['commit']} (code digest {block['code_digest']})" in text
        assert "\n**Method.** " in text


def test_the_index_lists_every_table_and_no_table_narrates_its_making():
    index = (RESULTS / "README.md").read_text(encoding="utf-8")
    for path in tables():
        assert f"`{path.stem}.md`" in index, f"results/README.md does not list {path.name}"
        if path.suffix == ".md":
            text = path.read_text(encoding="utf-8")
            found = re.search(r"\bsessions?\b|rehearsal|earlier machine|\bthis machine\b|"
                              r"added by hand|^#+ Notes", text, re.IGNORECASE | re.MULTILINE)
            assert found is None, f"{path.name} narrates its making: {found.group(0)!r}"


def test_notebook_07_finds_its_gpu_statement():
    report = (RESULTS / "gpu_vs_cpu.md").read_text(encoding="utf-8")
    assert re.search(r"^\|[^|]*\| GPU \|", report, flags=re.M) or "No GPU measurement exists yet" in report


def test_selfscaling_results_record_the_code_notebook_11_checks():
    text = (RESULTS / "selfscaling_results.json").read_text(encoding="utf-8")
    packaged = ROOT / "course_lib" / "course_files" / "selfscaling_results.json"
    assert packaged.read_text(encoding="utf-8") == text, "run `make colab` (or `python -m release.package_files`)"
    results = json.loads(text)
    assert results["provenance"]["selfscaling_code"] == results["meta"]["code"]


def test_notebook_11_refuses_results_of_other_self_scaling_code(tmp_path):
    from course_lib.selfscaling import drift

    results = json.loads((RESULTS / "selfscaling_results.json").read_text(encoding="utf-8"))
    results["provenance"]["selfscaling_code"] = results["meta"]["code"] = "0" * 12
    old = tmp_path / "old.json"
    old.write_text(json.dumps(results), encoding="utf-8")
    with pytest.raises(drift.StaleResultsError,
                       match=r"other self-scaling code \(code digest 0{12}.*Regenerate it with "
                             r"`python benchmarks/selfscaling_reproduce.py --seeds 42 43 44`"):
        drift.load_seed_results(old)
    assert drift.load_seed_results(old, check_code=False)[0]["configs"]
    results["provenance"]["selfscaling_code"] = drift.code_version()
    current = tmp_path / "current.json"
    current.write_text(json.dumps(results), encoding="utf-8")
    loaded, source = drift.load_seed_results(current)
    assert source == str(current) and loaded["configs"]

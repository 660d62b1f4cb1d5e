"""The course opens in JupyterLab in a real browser, and notebook 00 runs there.

Starts the same server ``make lab`` starts (``jupyter lab --no-browser --port=... notebooks/``,
here on a loopback port of its choosing with a random token, serving a scratch copy of the notebooks so
nothing is saved into the repository), opens notebook 00 in headless Chromium, runs the cell
that calls ``course_lib.setup()`` and waits for its output. It also checks the first impression:
no "get notified about official Jupyter news?" popup (the course's JupyterLab settings,
``release/lab_settings.py``) and no red TensorFlow start-up messages (``course_lib.quiet``).
Chromium must be installed already; without one the test is skipped with a one-line instruction.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from helpers import browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_setup_and_environment.ipynb"
SERVER_START_S = 90
OUTPUT_WAIT_S = 120  # kernel start + TensorFlow import on a busy 2-core machine
NEWS_PROMPT_WAIT_S = 5

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _wait_for_server(runtime: Path, token: str, proc: subprocess.Popen, log: Path) -> str:
    """The server's base URL, once it answers. It chose its own port (``--port=0``), which it
    writes into ``jpserver-<pid>.json``: a port picked here and handed over could be taken by
    another program in the seconds JupyterLab needs to start."""
    deadline = time.monotonic() + SERVER_START_S
    info = runtime / f"jpserver-{proc.pid}.json"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            base = f"http://127.0.0.1:{json.loads(info.read_text())['port']}"
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as response:
                if response.status == 200:
                    return base
        except (OSError, ValueError, KeyError):  # not written yet, half written, or not answering
            time.sleep(0.5)
    raise AssertionError(f"jupyter lab did not answer within {SERVER_START_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server like `make lab`'s, on a scratch copy of the notebooks."""
    if not NOTEBOOK.exists():
        pytest.fail(f"{NOTEBOOK.relative_to(ROOT)} is missing")
    served = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", served, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    token = secrets.token_hex(16)
    jupyter = Path(sys.executable).with_name("jupyter")
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        PYTHONPATH=str(ROOT),
    )
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as on a learner's machine: course_lib sets it
    log = tmp_path / "jupyter.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(jupyter), "lab", "--no-browser", "--port=0", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.token={token}", "--ServerApp.port_retries=0",
             f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}", str(served),
             *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI containers run as root
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )
    try:
        base = _wait_for_server(tmp_path / "runtime", token, proc, log)
        yield base, token, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_notebook_00_runs_in_jupyterlab(lab, chromium):
    base, token, log = lab
    start = time.monotonic()
    with browser.launch(chromium) as context:
        # Like a cluster without internet: only the local server answers.
        blocked = browser.block_outside(context, (base, "data:", "blob:", "about:"))
        page = context.new_page()
        page.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}", timeout=60_000)
        first = page.locator(".jp-Notebook .jp-CodeCell", has_text="google.colab").first
        cell = page.locator(".jp-Notebook .jp-CodeCell", has_text="course_lib.setup()").first
        cell.wait_for(timeout=60_000)
        # Run only once the kernel is up: the status bar reads "Python 3 (ipykernel) | Idle".
        page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle")).first.wait_for(
            timeout=OUTPUT_WAIT_S * 1000
        )
        first.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")  # the Colab cell: imports course_lib (and TensorFlow)
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        output = cell.locator(".jp-OutputArea-output")
        try:
            output.filter(has_text="Running in fast mode").first.wait_for(timeout=OUTPUT_WAIT_S * 1000)
        except Exception as exc:
            page.screenshot(path=str(log.with_suffix(".png")))
            shown = output.all_inner_texts()
            raise AssertionError(
                f"no 'Running in fast mode' output; cell shows {shown}; server log:\n"
                f"{log.read_text()[-2000:]}"
            ) from exc
        assert "Error" not in " ".join(output.all_inner_texts())
        red = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        assert red.count() == 0, f"stderr shown to the learner: {red.all_inner_texts()}"
        # JupyterLab asks about news a few seconds after start unless the settings say no.
        page.wait_for_timeout(NEWS_PROMPT_WAIT_S * 1000)
        news = page.get_by_text(re.compile("official Jupyter news", re.I))
        assert news.count() == 0, "JupyterLab showed the news popup: see release/lab_settings.py"
    elapsed = time.monotonic() - start
    print(f"JupyterLab: notebook opened and setup cell ran in {elapsed:.1f} s; blocked {len(blocked)} external requests")


NOTEBOOK_02 = "02_mnist_softmax_regression.ipynb"
RUN_ALL_WAIT_S = 600  # notebook 02 in fast mode, kernel start included, on a busy 2-core machine


def test_an_untouched_notebook_stays_unmodified_and_notebook_02_runs_offline(lab, chromium):
    """Open and close notebook 02 without touching it: no unsaved-changes mark, no question on
    closing, the file as it was (release/lab_settings.py, course_lib/lab_contents.py). Then run
    it top to bottom, offline, with no error."""
    base, token, log = lab
    served = next(log.parent.glob(f"notebooks/{NOTEBOOK_02}"))
    before = served.read_bytes()
    with browser.launch(chromium) as context:
        blocked = browser.block_outside(context, (base, "data:", "blob:", "about:"))
        page = context.new_page()
        page.goto(f"{base}/lab/tree/{NOTEBOOK_02}?token={token}", timeout=60_000)
        page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle")).first.wait_for(
            timeout=OUTPUT_WAIT_S * 1000)
        page.wait_for_timeout(3000)  # JupyterLab writes the kernel's metadata once it is up
        tab = page.locator(".lm-DockPanel .lm-TabBar-tab", has_text=NOTEBOOK_02)
        assert "jp-mod-dirty" not in (tab.get_attribute("class") or ""), "untouched notebook marked modified"
        tab.locator(".lm-TabBar-tabCloseIcon").click()
        page.wait_for_timeout(1500)
        assert page.get_by_text("Save your work").count() == 0 and page.locator(".jp-Dialog").count() == 0
        assert served.read_bytes() == before, "closing an untouched notebook changed the file"

        page.close()
        page = context.new_page()
        page.goto(f"{base}/lab/tree/{NOTEBOOK_02}?token={token}", timeout=60_000)
        page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle")).first.wait_for(
            timeout=OUTPUT_WAIT_S * 1000)
        page.locator(".jp-Notebook .jp-Cell").first.click()  # the notebook is the current widget
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name=re.compile("^Run All Cells")).click()
        last = page.locator(".jp-Notebook .jp-CodeCell").last
        try:  # every cell has run when the last one shows an execution count
            last.locator(".jp-InputPrompt", has_text=re.compile(r"\[\d+\]")).wait_for(
                timeout=RUN_ALL_WAIT_S * 1000)
        except Exception as exc:
            page.screenshot(path=str(log.with_suffix(".png")))
            raise AssertionError(f"notebook 02 did not finish; server log:\n{log.read_text()[-2000:]}") from exc
        errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')
        assert errors.count() == 0, errors.all_inner_texts()
    print(f"notebook 02 ran in JupyterLab offline; blocked {len(blocked)} external requests")

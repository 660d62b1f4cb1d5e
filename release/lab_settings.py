"""Install the course's JupyterLab settings into an environment.

    python -m release.lab_settings --prefix .venv

JupyterLab reads ``<prefix>/share/jupyter/lab/settings/overrides.json`` as the defaults of that
environment (a learner can still change any of them). The course's choices are in
``binder/overrides.json``, shared with Binder: no "get notified about Jupyter news?" popup and no
update checks (workshop machines are often offline), and nothing else changed. The server's
configuration in ``<prefix>/etc/jupyter/jupyter_server_config.json`` hands notebooks
out with this environment's kernel metadata, so an untouched notebook never shows as modified
(``course_lib/lab_contents.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ROOT / "binder" / "overrides.json"


def settings_path(prefix: Path) -> Path:
    """Where JupyterLab looks for an environment's default settings."""
    return prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


SERVER_CONFIG = {"ServerApp": {"contents_manager_class":
                               "course_lib.lab_contents.CourseContentsManager"}}


def server_config_path(prefix: Path) -> Path:
    """Where Jupyter Server reads an environment's configuration (``.d`` snippets only enable
    extensions)."""
    return prefix / "etc" / "jupyter" / "jupyter_server_config.json"


def install(prefix: Path) -> Path:
    """Merge the course's settings into ``prefix``'s overrides.json and return its path.

    Settings already in the file for other plugins are kept; the course's plugins are replaced.
    """
    if not prefix.is_dir():
        raise SystemExit(f"--prefix {prefix} is not a folder; give the virtual environment's path.")
    target = settings_path(prefix)
    merged = json.loads(target.read_text(encoding="utf-8")) if target.exists() else {}
    merged.update(json.loads(SETTINGS.read_text(encoding="utf-8")))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    server = server_config_path(prefix)
    config = json.loads(server.read_text(encoding="utf-8")) if server.exists() else {}
    config.setdefault("ServerApp", {}).update(SERVER_CONFIG["ServerApp"])
    server.parent.mkdir(parents=True, exist_ok=True)
    server.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", type=Path, default=Path(sys.prefix),
                        help="the environment (default: the running Python's)")
    args = parser.parse_args(argv)
    print(f"JupyterLab settings: {install(args.prefix)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

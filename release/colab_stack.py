"""The Colab-stack test environment: pins from ``release/colab_stack.toml``, and a check.

    python -m release.colab_stack constraints     # pip constraints: Colab's exact versions
    python -m release.colab_stack check           # exit 1 unless this Python has exactly them

``make test-colab`` builds ``.venv-colab`` with these constraints (``pip install -c``) and runs
the whole suite in it, so the course is tested on what Colab learners really get.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from importlib import metadata
from pathlib import Path

FACTS = Path(__file__).with_name("colab_stack.toml")


def pins(path: Path = FACTS) -> dict[str, str]:
    """Package name -> the exact version Colab ships."""
    return dict(tomllib.loads(path.read_text(encoding="utf-8"))["packages"])


def constraints(path: Path = FACTS) -> str:
    """The pins as a pip constraints file."""
    return "".join(f"{name}=={version}\n" for name, version in pins(path).items())


def mismatches(path: Path = FACTS) -> list[str]:
    """What the running environment has that differs from Colab's pins ([] when it matches)."""
    wrong = []
    for name, wanted in pins(path).items():
        try:
            found = metadata.version(name)
        except metadata.PackageNotFoundError:
            found = "not installed"
        if found != wanted:
            wrong.append(f"{name}: Colab has {wanted}, this environment {found}")
    return wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["constraints", "check"])
    args = parser.parse_args(argv)
    if args.action == "constraints":
        sys.stdout.write(constraints())
        return 0
    wrong = mismatches()
    for line in wrong:
        print(line, file=sys.stderr)
    if not wrong:
        print("this environment has Colab's versions: " + ", ".join(
            f"{k} {v}" for k, v in pins().items()))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())

"""Helpers the tests share, imported by the tests only (``from helpers import browser``).

- :mod:`helpers.browser` finds an installed Chromium and drives it offline (Playwright);
- :mod:`helpers.scratch_env` a scratch virtual environment to install the course into.

pytest puts ``tests/`` on ``sys.path`` (the folder of its ``conftest.py``), so ``helpers`` is
importable from every test file.
"""

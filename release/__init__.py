"""What the course publishes, and the files generated for it from one source each.

- :mod:`release.colab` Colab and Binder badges, the notebooks' setup cell, the README's course
  table, all from the repository address in ``course.toml`` (``make colab``);
- :mod:`release.package_files` the copies of repository files that ``course_lib`` ships;
- :mod:`release.export_requirements` ``requirements.txt`` and ``requirements/*.txt`` from
  ``uv.lock`` (``make lock``), both through :mod:`release.generated` (write, or ``--check``);
- :mod:`release.make_attendee` the attendee notebooks, without solutions (``make attendee``);
- :mod:`release.lab_settings` the course's JupyterLab defaults in an environment (``make lab``);
- :mod:`release.colab_stack` Colab's package versions (``colab_stack.toml``), which
  ``make test-colab`` installs and the course supports.

Run them from the repository root, e.g. ``python -m release.colab --check``.
"""

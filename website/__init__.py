"""The course website: its pages (``*.md``), Sphinx configuration (``conf.py``) and builder.

- :mod:`website.build_site` stages the pages, executes the notebooks and runs Sphinx
  (``make site``);
- :mod:`website.course_site` the Sphinx extension ``conf.py`` loads (run stamps, launch links,
  folded solutions, the course table, links into the repository).

Run the builder from the repository root: ``python -m website.build_site --help``.
"""

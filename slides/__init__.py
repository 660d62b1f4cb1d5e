"""The instructor slides: deck sources (``*.md``), their builder and the figures they show.

- :mod:`slides.build_slides` builds the reveal.js decks (``make slides``);
- :mod:`slides.figures` computes the figures the decks name (``![caption](fig:NAME)``);
- :mod:`slides.slide_metadata` sets the notebooks' RISE slide types (``make colab``).

Run them from the repository root, e.g. ``python -m slides.build_slides --out build/slides``.
Nothing here is part of ``course_lib``: learners never need it.
"""

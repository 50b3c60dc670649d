"""``python -m quotadesk.cli``: the same entry point as the ``quotadesk`` command."""

from quotadesk.cli import main

main()

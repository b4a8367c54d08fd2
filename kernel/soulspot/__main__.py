"""``python -m soulspot``: the ``soulspot`` command, for environments without the console
script on ``PATH`` (a venv not activated, ``pipx run``, a container's ``python``)."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()

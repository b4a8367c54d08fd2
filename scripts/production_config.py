"""Print ``config/production.example.toml`` (``soulspot config example`` prints the same:
the generator lives in ``soulspot.config_example``, so the wheel carries it).

Run by ``make docs-config``; a test fails when the file and this output differ, and checks
that both files hold the same keys and pass ``soulspot config check`` (environment parity).
"""

from __future__ import annotations

import sys

from soulspot.config_example import production_example


def main() -> None:
    sys.stdout.write(production_example())


if __name__ == "__main__":
    main()

"""``python -m openapp_status``: the ``openapp-status`` command.

This module only hands over to ``cli.main``, so that the console script and
``python -m`` behave the same; it must hold no logic of its own.
"""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())

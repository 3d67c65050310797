"""The ``cxm`` command: thin over the library functions the pages call.

Results go to stdout, problems to stderr; exit 1 for rejected input, 2 for usage errors.
``docs/cli.md`` is generated from the ``--help`` of each command (``make docs``).
"""

from __future__ import annotations

import sys

from cxm.cli import data, models, reports, users, whatif  # noqa: F401  (each registers its commands)
from cxm.cli._common import app

__all__ = ["app", "main"]


def main() -> None:
    """Run the command line."""
    app(prog_name="cxm")


if __name__ == "__main__":
    sys.exit(main())

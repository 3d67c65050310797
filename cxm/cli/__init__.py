"""The ``cxm`` command: thin over the library functions the pages call.

Results go to stdout, problems to stderr; exit 1 for rejected input, 2 for usage errors, and
a failure's own code for a damaged warehouse, a full disk, ... (docs/errors.md, "Failures").
``docs/cli.md`` is generated from the ``--help`` of each command (``make docs``).
"""

from __future__ import annotations

import sys

from cxm.cli import data, experiments, models, reports, users, whatif  # noqa: F401  (each registers its commands)
from cxm.cli._common import app, err
from cxm.errors import CxmError
from cxm.logs import start

__all__ = ["app", "main"]


def main() -> None:
    """Run the command line: first check every ``CXM_*`` setting and configure the log.

    A bad setting is one message on stderr naming each variable, and exit code 1, as a bad
    company configuration is; no command runs. A damaged warehouse found only by a query (a
    block whose checksum fails; a file that does not open is named where it is opened) ends
    as its named failure and exit code, not a traceback.
    """
    import duckdb

    from cxm.warehouse import failures, store

    try:
        start()
    except CxmError as exc:
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    try:
        app(prog_name="cxm")
    except duckdb.Error as exc:
        failure = failures.explain(exc, path=store.warehouse_path(), writing=False)
        if failure is None:
            raise
        err.print(str(failure), markup=False, highlight=False, soft_wrap=True)
        sys.exit(failure.exit_code)


if __name__ == "__main__":
    sys.exit(main())

"""``python -m cxm.cli`` and ``spark-submit cxm/cli/__main__.py derive --engine spark ...``."""

from cxm.cli import main

if __name__ == "__main__":
    main()

"""Entry script of the PyInstaller bundle: the ``workbench`` command (``workbench.cli:main``).

``workbench`` alone opens the window; ``workbench gui DIR``, ``workbench train ...`` and the other
sub-commands work as in a pip install. ``freeze_support`` lets a frozen app start
``multiprocessing`` children with the ``spawn`` method (DataLoader workers in the GUI process must
not fork: see ``workbench.engine.dataset``): without it each child would re-run the whole command line.
"""

import multiprocessing
import sys

from workbench.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())

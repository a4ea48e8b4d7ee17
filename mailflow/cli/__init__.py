"""Command line: parses arguments, calls the app, prints. No logic here.

`base.py` holds the `mailflow` group and what every command shares; each other
module adds one family of commands to it. Importing this package registers them all.

Exit status: 0 success, 1 a user error with a message saying what to fix,
2 a usage error (click's own).
"""

from mailflow.cli import console, mail, passes, prepare, program
from mailflow.cli.base import main

__all__ = ["console", "mail", "main", "passes", "prepare", "program"]

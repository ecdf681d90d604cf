"""`python -m spectfsl` runs the CLI."""

from spectfsl.cli import run

run()

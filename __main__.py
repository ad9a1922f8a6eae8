"""``python -m stylert ...`` is ``stylert ...``."""

from .cli import main

main(prog_name="stylert")

"""The ``stylert`` commands: one click command per module, imported lazily by the root ``cli.py`` only.

Commands parse options, call the library packages below them and print; they hold no logic
that another package needs.
"""

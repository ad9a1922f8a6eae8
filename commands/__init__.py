"""The click commands, one module each, imported only by the root ``cli.py``."""

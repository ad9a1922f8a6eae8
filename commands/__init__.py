"""Click commands that live outside the library packages (imported lazily by the root ``cli.py``)."""

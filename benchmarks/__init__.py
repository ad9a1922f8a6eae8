"""Benchmarks: the measuring core (``harness.py``), ``stylert bench`` (``bench.py``), the FLOP counter
(``flops.py``) and the scenarios run by ``python -m stylert.benchmarks SCENARIO [--quick]``
(``__main__.py`` lists them); results in ``results/<scenario>/<machine>/``."""

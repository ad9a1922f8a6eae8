"""Export of trained models to three validated ONNX graphs (encoder, transform, decoder) and a manifest.

See docs/export.md. Modules:

- ``specs``        one declarative export spec per family (names, symbolic shapes, tolerances,
                   routing), registered by family name; the graph modules
- ``onnx_graphs``  ``torch.onnx.export`` (dynamo) of one graph, cleaned and checked
- ``validate``     ONNX Runtime vs PyTorch per graph and end to end; the validation report
- ``exporter``     ``export_model``: the whole export, written atomically; the manifest builder
- ``manifest``     ``load_manifest``, the typed ``Manifest`` (shapes, padding, routing), ``format_manifest``
                   (no torch)
- ``routing``      ``Routing`` (which value feeds each graph input) and ``chain`` (runs it)
- ``errors``       ``ExportError``, ``ValidationError`` (``OutputNameError``, ``ShapeError``,
                   ``AtolError``), ``ManifestError``

The command is ``stylert.commands.export``.

Importing this package imports nothing heavy; ``export_model`` and ``load_manifest`` are
loaded on first use (``stylert.export.load_manifest`` never imports torch).
"""

from __future__ import annotations

_LAZY = {
    "export_model": "exporter",
    "ExportResult": "exporter",
    "load_manifest": "manifest",
    "Manifest": "manifest",
    "get_export_spec": "specs",
    "list_export_specs": "specs",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""PyTorch model families, their registry and checkpoint loaders, and the reference stylization.

>>> from stylert.models import create_model, list_families
>>> list_families()
['adain', 'adain-multilevel', 'sanet', 'sanet-multilevel']

Each family is one ``FamilyDescriptor`` (``family.py``) registered by one module of ``families/``.
Importing this package imports nothing heavy: the names below are loaded on first use, and listing
or describing the families (``stylert.models.family``) imports no torch; building a model does.
"""

from __future__ import annotations

_LAZY = {
    "FamilyDescriptor": "family",
    "StyleModel": "base",
    "create_model": "registry",
    "get_family": "registry",
    "he_init": "registry",
    "list_families": "registry",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

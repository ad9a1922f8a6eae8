"""PyTorch model families, their registry and checkpoint loaders, and the reference stylization.

>>> from stylert.models import create_model, list_families
>>> list_families()
['adain', 'adain-multilevel', 'sanet', 'sanet-multilevel']

Importing this package imports torch.
"""

# Importing the family modules registers them.
from . import adain as _adain  # noqa: F401,E402
from . import attention as _attention  # noqa: F401,E402
from .base import StyleModel
from .registry import FamilySpec, create_model, get_family, he_init, list_families, register_family

__all__ = ["FamilySpec", "StyleModel", "create_model", "get_family", "he_init", "list_families", "register_family"]

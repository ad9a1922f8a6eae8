"""One module per model family, each registering its ``FamilyDescriptor`` (``stylert.models.family``).

Every module here is imported on the first family lookup (``stylert.models.family``): adding a
family is adding one module, calling ``register`` once. These modules import no torch; what they
name in torch code, ``stylert.export`` or ``stylert.training`` is a ``"module:attribute"`` reference.
"""

"""The registry of model families, in the manner of timm's ``create_model``.

A family is a ``FamilyDescriptor`` (``stylert.models.family``) registered by one module of
``stylert.models.families``: a name, a frozen config dataclass and a builder ``config -> StyleModel``,
with its export spec, checkpoint layouts and training defaults. Tests parametrize over
``list_families()``, so a new family is tested without anyone remembering to add it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import ModelError
from .family import family_names
from .family import get as get_family


def list_families() -> list[str]:
    return family_names()


def make_config(name: str, config: dict | None = None):
    """The family's config dataclass from a plain dict (unknown keys are an error)."""
    spec = get_family(name)
    fields = {f.name for f in dataclasses.fields(spec.config_cls)}
    given = dict(config or {})
    unknown = sorted(set(given) - fields)
    if unknown:
        raise ModelError(f"{name}: unknown config keys {unknown}", fix=f"known keys: {', '.join(sorted(fields))}")
    return spec.config_cls(**given)


def create_model(name: str, config: dict | Any | None = None):
    """Build family ``name`` with random weights (a config dataclass or a dict of overrides)."""
    spec = get_family(name)
    if not isinstance(config, spec.config_cls):
        config = make_config(name, config)
    model = spec.build(config)
    model.eval()
    return model


def he_init(model, seed: int = 0):
    """Random weights with He initialisation (zero biases), in place; returns ``model``.

    Activations then keep their scale through the 20+ layers of a family, so outputs depend
    on inputs (PyTorch's default init shrinks them into denormals): synthetic weights for
    tests and benchmarks of the families that have no public checkpoint.
    """
    import torch

    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight"):
                p.normal_(0.0, (2.0 / p[0].numel()) ** 0.5)
            else:
                p.zero_()
    return model

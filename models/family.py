"""One description per model family: ``FamilyDescriptor``, registered by one module in ``models/families/``.

A family's descriptor holds everything stylert knows about it, in the manner of timm's model files
(model, checkpoint remapping, pretrained config in one place) and Optimum's one config class per model:

    name, summary        the registry name (``--model NAME``) and one line for ``stylert inspect``
    builder, config      ``config -> StyleModel`` and the frozen config dataclass (``create_model``)
    export_spec          the ``FamilyExportSpec`` subclass that ``stylert.export`` binds to a model
    layouts              the checkpoint layouts in the wild that hold the family (``Layout``)
    training             the losses, their logged components, the loss-weight defaults and what the
                         warm start changes (``TrainingDefaults``; None: the family is not trained)
    public_weights       the public weight set (``stylert.core.weights.PUBLIC_WEIGHTS``) whose files are
                         the family's reference model; None: the shipped trained weights, if any
                         (``models/shipped/registry.json``: file, SHA-256, budget; ``shipped()``)

Layering (docs/architecture.md): ``models/`` may not import ``export/`` or ``training/``, so what
those layers implement is named here as a *reference*, a ``"module:attribute"`` string that the
layer owning it resolves (``resolve``) when it needs it; a descriptor built outside the package (a
test, a plugin) may pass the object itself. This module and the family modules import no torch:
``stylert --help`` and the commands' ``--help`` list the families without loading a model.

The family modules are found, not listed: every module of ``stylert.models.families`` is imported on
the first lookup and calls ``register`` once, so adding a family is adding one module there.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Union

from ..errors import ModelError

if TYPE_CHECKING:  # pragma: no cover
    from ..core.shipped import ShippedModel
    from .checkpoints import CheckpointFile

#: A ``"package.module:attribute"`` string (resolved on use) or the object itself.
Ref = Union[str, Callable[..., Any], type]

#: The family of ``--model`` when none is named (the one with public weights).
DEFAULT_FAMILY = "adain"


def resolve(ref: Ref):
    """The object a reference names: ``"stylert.export.specs:AdaINExportSpec"`` -> that class (imported
    now); anything that is not a string is returned as it is. ModelError for a name that does not resolve."""
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        if isinstance(err, ModuleNotFoundError) and err.name and not module.startswith(err.name):
            raise  # a missing third-party package (torch): the CLI names the extra that brings it
        raise ModelError(f"family reference {ref!r} does not resolve ({err})",
                         fix="name it as 'package.module:attribute'") from None
    return obj


@dataclass(frozen=True)
class Layout:
    """How one project saved one family: its files (conventional name -> file kind) and how to tell it.

    A set of files is of this layout when every file's kind is among ``files`` (an encoder file of
    either kind is always welcome), and, where ``kind`` is set, a file of that kind is present
    whose keys (with ``markers`` set) include one starting with a marker. ``public_encoder``: the
    layout's own files hold no encoder, so the public ``vgg_normalised.pth`` completes them.
    File kinds are ``stylert.models.checkpoints.FILE_KINDS``.
    """

    name: str
    family: str
    encoder_layout: str
    files: dict[str, str]  # conventional file name -> file kind
    description: str
    kind: str | None = None  # a file of this kind tells the layout (None: the fallback)
    markers: tuple[str, ...] = ()  # ... and one of its keys starts with one of these
    public_encoder: bool = False

    def accepts(self, files: list[CheckpointFile]) -> bool:
        """Whether these files can be (part of) this layout."""
        from .checkpoints import ENCODER_KINDS

        return {f.kind for f in files} <= set(self.files.values()) | ENCODER_KINDS

    def tells(self, files: list[CheckpointFile]) -> bool:
        """Whether these files are recognisably this layout (the first layout that tells wins)."""
        if not self.accepts(files):
            return False
        if self.kind is None:
            return True
        return any(f.kind == self.kind and (not self.markers or any(k.startswith(self.markers) for k in f.state_dict))
                   for f in files)

    def specificity(self) -> tuple:
        """Sort key of ``all_layouts``, most specific first: layouts that a file kind tells before the
        fallback (no ``kind``), more files before fewer, key markers before none."""
        return (self.kind is None, -len(self.files), not self.markers)


@dataclass(frozen=True)
class TrainingDefaults:
    """How ``stylert train`` trains a family (read by ``stylert.training``).

    losses:            reference to ``(model, content, style, weights, amp[, identity]) -> LossResult``
                       (``stylert.training.losses``)
    components:        the unweighted loss components it returns, in the order they are logged
    style_weight:      the default weight of the style loss (the reference implementation's)
    level_weights:     the content loss has one weight per level (``--level-weights`` applies)
    pretrained_config: ``--from-pretrained``: the config changes that let the public AdaIN decoder fit
    attention_modules: (relu4_1 module, relu5_1 module, the conv that merges / fuses them) that the
                       attention warm start sets (``stylert.training.initial.attention_warm_start``);
                       None: no attention to warm-start
    The identity losses (``--identity-*-weight``, ``--identity-every``) apply when ``components``
    holds them.
    """

    losses: Ref
    components: tuple[str, ...]
    style_weight: float
    level_weights: bool = False
    pretrained_config: Mapping[str, Any] = field(default_factory=dict)
    attention_modules: tuple[str, str, str] | None = None

    @property
    def identity(self) -> bool:
        return "identity_pixel" in self.components


@dataclass(frozen=True)
class FamilyDescriptor:
    """Everything stylert knows about one model family (see the module docstring)."""

    name: str
    summary: str
    builder: Ref
    config: Ref
    export_spec: Ref | None = None
    layouts: tuple[Layout, ...] = ()
    training: TrainingDefaults | None = None
    public_weights: str | None = None

    @property
    def config_cls(self) -> type:
        return resolve(self.config)

    def build(self, config):
        """The model of ``config`` (an instance of ``config_cls``), random weights."""
        return resolve(self.builder)(config)

    def shipped(self, root=None) -> ShippedModel | None:
        """The family's entry in the shipped-weights registry (file, SHA-256, size, source, budget), or None."""
        from ..core.shipped import read_registry

        return read_registry(root).get(self.name)


_DESCRIPTORS: dict[str, FamilyDescriptor] = {}
_LOADED = False


def _load_family_modules() -> None:
    """Import every module of ``stylert.models.families`` once (each registers its family)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True  # before the imports: each family module's ``register`` comes back here
    try:
        package = importlib.import_module(".families", __package__)
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"{package.__name__}.{info.name}")
    except BaseException:
        _LOADED = False  # the next lookup tries again (modules imported already are not run twice)
        raise


def register(descriptor: FamilyDescriptor) -> FamilyDescriptor:
    """Add a family (the one call of a family module); returns it. ModelError if the name or one of its
    layouts' names is taken, or a layout names another family."""
    _load_family_modules()
    if descriptor.name in _DESCRIPTORS:
        raise ModelError(f"model family {descriptor.name!r} is registered twice")
    taken = {lay.name for d in _DESCRIPTORS.values() for lay in d.layouts}
    for lay in descriptor.layouts:
        if lay.family != descriptor.name:
            raise ModelError(f"layout {lay.name!r} of family {descriptor.name!r} names family {lay.family!r}")
        if lay.name in taken or lay.name == "stylert":
            raise ModelError(f"checkpoint layout {lay.name!r} is registered twice")
    _DESCRIPTORS[descriptor.name] = descriptor
    return descriptor


def unregister(name: str) -> FamilyDescriptor:
    """Remove a registered family (tests); returns its descriptor. ModelError if it is not registered."""
    descriptor = get(name)
    del _DESCRIPTORS[name]
    return descriptor


def descriptors() -> dict[str, FamilyDescriptor]:
    """name -> descriptor, in name order (a copy)."""
    _load_family_modules()
    return {name: _DESCRIPTORS[name] for name in sorted(_DESCRIPTORS)}


def family_names() -> list[str]:
    """The registered families, sorted."""
    return list(descriptors())


def get(name: str) -> FamilyDescriptor:
    """The descriptor of ``name``; ModelError naming the families for an unknown one."""
    _load_family_modules()
    try:
        return _DESCRIPTORS[name]
    except KeyError:
        raise ModelError(f"unknown model family {name!r}", fix=f"use one of {', '.join(family_names())}") from None


def all_layouts() -> dict[str, Layout]:
    """Every family's checkpoint layouts, name -> layout, most specific first (``Layout.specificity``;
    ties in the order the families were registered): the order ``layout_of`` tries them in."""
    _load_family_modules()
    layouts = [lay for d in _DESCRIPTORS.values() for lay in d.layouts]
    return {lay.name: lay for lay in sorted(layouts, key=Layout.specificity)}


def family_help() -> str:
    """``adain (default), adain-multilevel, ...``: the families for a ``--model`` option's help."""
    return ", ".join(f"{n} (default)" if n == DEFAULT_FAMILY else n for n in family_names())

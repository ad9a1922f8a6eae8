"""Buffer planning: one device arena for every input and output of the three engines.

For the engine's profiles, every tensor of every graph (encoder/transform/decoder inputs and
outputs, by the manifest's names and symbolic shapes) gets a slot sized for its largest
max-shape over the profiles, at a 256-byte aligned offset (TensorRT's I/O alignment). The runtime
allocates the arena once (through torch's CUDA allocator) and binds views of it with
``set_tensor_address``: an engine's outputs are written into their slots, and the next
engine reads them in place when they are fed to it (features never leave the GPU); host
inputs are copied into their own slots. Pure arithmetic: no torch, no TensorRT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...export.manifest import GRAPH_NAMES
from ..profiles import ShapeRange, format_shape, tensor_ranges

ALIGNMENT = 256
ITEMSIZE = {"float32": 4, "float16": 2, "int64": 8, "int32": 4}
SIDES = ("inputs", "outputs")


@dataclass(frozen=True)
class Slot:
    """One tensor's place in the arena: (graph, "inputs"|"outputs", name), largest shape, bytes."""

    graph: str
    side: str
    name: str
    max_shape: tuple[int, ...]
    dtype: str
    offset: int
    nbytes: int

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.graph, self.side, self.name)

    @property
    def numel(self) -> int:
        return self.nbytes // ITEMSIZE[self.dtype]


@dataclass(frozen=True)
class BufferPlan:
    slots: dict[tuple[str, str, str], Slot]
    total_bytes: int

    def slot(self, graph: str, side: str, name: str) -> Slot:
        return self.slots[(graph, side, name)]

    def view(self, arena, graph: str, side: str, name: str, shape: Sequence[int]):
        """A tensor of ``shape`` over the slot (``arena``: a uint8 torch tensor of ``total_bytes``)."""
        import torch

        slot = self.slot(graph, side, name)
        numel = 1
        for d in shape:
            numel *= int(d)
        if numel * ITEMSIZE[slot.dtype] > slot.nbytes:
            raise ValueError(f"{graph} {name} {format_shape(shape)} does not fit its slot (max "
                             f"{format_shape(slot.max_shape)})")
        dtype = {"float32": torch.float32, "float16": torch.float16, "int64": torch.int64, "int32": torch.int32}
        flat = arena[slot.offset:slot.offset + slot.nbytes].view(dtype[slot.dtype])
        return flat[:numel].view(tuple(int(d) for d in shape))

    def describe(self) -> str:
        rows = [f"{s.graph}.{s.name} ({s.side[:-1]}) {format_shape(s.max_shape)}: {s.nbytes / 2**20:.1f} MB"
                for s in self.slots.values()]
        return "\n".join(rows + [f"total {self.total_bytes / 2**20:.1f} MB"])


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _align(n: int) -> int:
    return -(-n // ALIGNMENT) * ALIGNMENT


def plan_buffers(manifest, profiles: Sequence[ShapeRange]) -> BufferPlan:
    """The arena for ``profiles`` (image profiles): a slot per graph tensor, as large as its biggest
    max shape over the profiles (one profile runs at a time)."""
    if not profiles:
        raise ValueError("at least one profile is needed")
    ranges = [tensor_ranges(manifest, p) for p in profiles]
    slots: dict[tuple[str, str, str], Slot] = {}
    offset = 0
    for graph in GRAPH_NAMES:
        for side in SIDES:
            tensors = manifest.inputs(graph) if side == "inputs" else manifest.outputs(graph)
            for t in tensors:
                shapes = [r[graph][side][t["name"]].max for r in ranges]
                largest = max(shapes, key=_numel)  # one profile runs at a time: the biggest max shape
                numel = _numel(largest)
                nbytes = _align(numel * ITEMSIZE[t["dtype"]])
                slots[(graph, side, t["name"])] = Slot(graph, side, t["name"], largest, t["dtype"], offset, nbytes)
                offset += nbytes
    return BufferPlan(slots, offset)

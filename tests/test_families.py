"""One family descriptor: a family registered by one ``register`` call is seen by every layer.

The toy family below is written as a family module would be (``models/families/*.py``, with its
model code beside it, which a module outside the package may hold): AdaIN at relu1_1 with a
one-conv decoder. The test registers it, checks that the registry, the export spec, the checkpoint
layouts, the training losses and the CLI's ``--model`` choices all see it with no other edit, and
unregisters it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from stylert.models import family as families
from stylert.models.checkpoints import LAYOUTS, layout_state_dicts, layouts_of, load_model, save_checkpoint
from stylert.models.registry import create_model, get_family, list_families

from conftest import invoke


def register_toy_family():
    """The toy family, in one block as its module would hold it; returns its descriptor."""
    from stylert.models.adain import AdaINTransform, _AdaINFamily
    from stylert.models.base import ModelConfig
    from stylert.models.decoder import ConvSpec, Decoder
    from stylert.models.family import FamilyDescriptor, Layout, TrainingDefaults, register
    from stylert.models.vgg import VGGEncoder

    class ToyModel(_AdaINFamily):
        family = "toy"
        content_taps = style_taps = alpha_levels = loss_taps = ("relu1_1",)
        size_multiple = 2

    def build_toy(config: ModelConfig) -> ToyModel:
        return ToyModel(config, VGGEncoder(config.encoder, "relu1_1"), AdaINTransform(("relu1_1",), config.eps),
                        Decoder((ConvSpec("rc1", 64, 3, relu=False),), main="relu1_1"))

    return register(FamilyDescriptor(
        name="toy",
        summary="AdaIN at relu1_1, one-conv decoder (a test family)",
        builder=build_toy,
        config=ModelConfig,
        export_spec="stylert.export.specs:AdaINExportSpec",
        layouts=(Layout("toy-pytorch", "toy", "vgg-normalised",
                        {"vgg_normalised.pth": "vgg-normalised", "toy_decoder.pth": "sequential-decoder"},
                        "a test layout: vgg_normalised.pth + toy_decoder.pth"),),
        training=TrainingDefaults(losses="stylert.training.losses:adain_losses", components=("content", "style"),
                                  style_weight=7.0),
    ))


@pytest.fixture
def toy():
    before = list(LAYOUTS)
    descriptor = register_toy_family()
    try:
        yield descriptor
    finally:
        families.unregister("toy")
    assert "toy" not in list_families() and list(LAYOUTS) == before


def test_a_registered_family_is_seen_by_every_layer(toy, tmp_path):
    from stylert.export.specs import AdaINExportSpec, get_export_spec, list_export_specs
    from stylert.training.losses import compute_losses, default_loss_weights, family_training

    # the registry
    assert "toy" in list_families() and get_family("toy") is toy
    model = create_model("toy")
    assert model.family == "toy" and model.describe()["parameters"]["total"] < 5_000

    # the export spec: three graphs whose modules run
    assert "toy" in list_export_specs()
    spec = get_export_spec(model)
    assert isinstance(spec, AdaINExportSpec)
    graphs = spec.graphs()
    image = torch.rand(1, 3, 8, 10)
    feats = dict(zip(graphs["encoder"].output_names, graphs["encoder"].module(image)))
    feeds = {"content_relu1_1": feats["relu1_1"], "style_relu1_1_mean": feats["relu1_1_mean"],
             "style_relu1_1_std": feats["relu1_1_std"], "alpha": torch.ones(1)}
    (stylized,) = graphs["transform"].module(*(feeds[n] for n in graphs["transform"].input_names))
    (out,) = graphs["decoder"].module(stylized)
    assert out.shape == (1, 3, 8, 10)

    # the checkpoint layouts: the toy's own files, and stylert's checkpoint, load back
    assert layouts_of("toy") == ["toy-pytorch"] and LAYOUTS["toy-pytorch"].family == "toy"
    assert list(LAYOUTS)[-1] == "toy-pytorch"  # a fallback layout (no file kind tells it) is tried last
    torch.manual_seed(0)
    for p in model.parameters():
        p.data.normal_()
    paths = []
    for name, state in layout_state_dicts(model, "toy-pytorch").items():
        torch.save(state, tmp_path / name)
        paths.append(tmp_path / name)
    loaded = load_model(paths, "toy")
    assert loaded.checkpoint_info["layout"] == "toy-pytorch"
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(v, v2), k
    again = load_model([save_checkpoint(model, tmp_path / "toy.pt")])
    assert again.family == "toy" and torch.equal(again.decoder.rc1.conv.weight, model.decoder.rc1.conv.weight)

    # the training losses: the family's function, components and default style weight
    assert family_training("toy").components == ("content", "style")
    assert default_loss_weights("toy").style == 7.0
    result = compute_losses(model, torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8))
    assert set(result.parts) == {"content", "style"} and torch.isfinite(result.total)

    # the CLI's --model choices
    for command in ("train", "demo"):
        assert "toy" in invoke(command, "--help").output
    done = invoke("train", "--model", "toy", "--out", tmp_path / "run")
    assert done.exit_code == 2 and "--content, --style required" in done.output, done.output


def test_a_family_and_its_layouts_register_once(toy):
    from stylert.errors import ModelError

    with pytest.raises(ModelError, match="'toy' is registered twice"):
        families.register(toy)
    with pytest.raises(ModelError, match="layout 'toy-pytorch' is registered twice"):
        families.register(families.FamilyDescriptor("toy2", "", builder=toy.builder, config=toy.config,
                                                    layouts=(families.Layout(**{**vars(toy.layouts[0]),
                                                                                "family": "toy2"}),)))
    assert "toy2" not in list_families()


def test_references_resolve_or_say_which():
    from stylert.errors import ModelError
    from stylert.export.specs import AttentionExportSpec

    assert families.resolve("stylert.export.specs:AttentionExportSpec") is AttentionExportSpec
    assert families.resolve(len) is len
    with pytest.raises(ModelError, match="'stylert.export.specs:Nothing' does not resolve"):
        families.resolve("stylert.export.specs:Nothing")


def test_every_family_in_the_package_is_described_whole():
    """Every shipped family module gives a model, an export spec, layouts of its own and training defaults."""
    from stylert.export.specs import list_export_specs
    from stylert.training.losses import trained_families

    names = list_families()
    assert names == ["adain", "adain-multilevel", "sanet", "sanet-multilevel"]
    assert list_export_specs() == names and trained_families() == names
    for name in names:
        d = get_family(name)
        assert d.layouts and all(lay.family == name for lay in d.layouts)
    # the order layouts are tried in: most specific first, the fallback (pytorch-adain) last
    assert list(LAYOUTS) == ["sanet", "paper-attention", "paper-multilevel-adain", "pytorch-adain"]


def test_listing_the_families_imports_no_torch():
    """The descriptors and the family modules are data: ``--model``'s choices and help need no torch."""
    code = ("import sys\nfrom stylert.cli import main\nfrom stylert.models.family import descriptors\n"
            "assert len(descriptors()) == 4\n"
            "for args in (['train', '--help'], ['demo', '--help'], ['export', '--help']):\n"
            "    try:\n        main(args)\n    except SystemExit as e:\n        assert e.code in (0, None), e.code\n"
            "heavy = sorted({'torch', 'onnx', 'onnxruntime'} & set(sys.modules))\n"
            "assert not heavy, f'imported {heavy}'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "[adain|adain-multilevel|sanet|sanet-multilevel]" in done.stdout

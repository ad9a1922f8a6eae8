"""``adain``: AdaIN at relu4_1 (Huang & Belongie 2017), the family of the public pytorch-AdaIN weights."""

from ..family import FamilyDescriptor, Layout, TrainingDefaults, register

DESCRIPTOR = register(FamilyDescriptor(
    name="adain",
    summary="AdaIN at relu4_1 (Huang & Belongie 2017)",
    builder="stylert.models.adain:build_adain",
    config="stylert.models.base:ModelConfig",
    export_spec="stylert.export.specs:AdaINExportSpec",
    layouts=(
        Layout("pytorch-adain", "adain", "vgg-normalised",
               {"vgg_normalised.pth": "vgg-normalised", "decoder.pth": "sequential-decoder"},
               "naoto0804/pytorch-AdaIN: vgg_normalised.pth + decoder.pth", public_encoder=True),
    ),
    # pytorch-AdaIN's train.py: style weight 10 (lambda)
    training=TrainingDefaults(losses="stylert.training.losses:adain_losses", components=("content", "style"),
                              style_weight=10.0),
    public_weights="adain",
))

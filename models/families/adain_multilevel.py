"""``adain-multilevel``: the paper's multi-level AdaIN (AdaIN at relu2_1, relu3_1, relu4_1, skip inputs)."""

from ..family import FamilyDescriptor, Layout, TrainingDefaults, register

DESCRIPTOR = register(FamilyDescriptor(
    name="adain-multilevel",
    summary="the paper's multi-level AdaIN: AdaIN at relu2_1, relu3_1, relu4_1 with skip inputs",
    builder="stylert.models.adain:build_adain_multilevel",
    config="stylert.models.adain:MultiLevelAdaINConfig",
    export_spec="stylert.export.specs:AdaINExportSpec",
    layouts=(
        Layout("paper-multilevel-adain", "adain-multilevel", "vgg-torchvision", {"model.pth": "paper-model"},
               "the paper's multi-level AdaIN model.state_dict()", kind="paper-model"),
    ),
    training=TrainingDefaults(losses="stylert.training.losses:adain_losses", components=("content", "style"),
                              style_weight=10.0, level_weights=True,
                              # AdaIN's widths on the main path, so that the public decoder fits it
                              pretrained_config={"rc4_channels": 256}),
))

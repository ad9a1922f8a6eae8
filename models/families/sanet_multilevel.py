"""``sanet-multilevel``: the paper's attention model (attention at relu4_1 and relu5_1 fused in the decoder)."""

from ..family import FamilyDescriptor, Layout, TrainingDefaults, register

DESCRIPTOR = register(FamilyDescriptor(
    name="sanet-multilevel",
    summary="the paper's attention model: attention at relu4_1 and relu5_1 fused in the decoder",
    builder="stylert.models.attention:build_sanet_multilevel",
    config="stylert.models.attention:MultiLevelSANetConfig",
    export_spec="stylert.export.specs:AttentionExportSpec",
    layouts=(
        Layout("paper-attention", "sanet-multilevel", "vgg-torchvision", {"model.pth": "paper-model"},
               "the paper's attention model.state_dict()", kind="paper-model",
               markers=("att1.", "att2.", "decoder.rc0.")),
    ),
    training=TrainingDefaults(losses="stylert.training.losses:attention_losses",
                              components=("content", "style", "identity_pixel", "identity_feature"),
                              style_weight=3.0,
                              attention_modules=("transform.att1", "transform.att2", "decoder.rc0.conv")),
))

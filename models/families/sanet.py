"""``sanet``: style attention at relu4_1 and relu5_1 + merge conv (Park & Lee 2019, GlebSBrykin/SANET)."""

from ..family import FamilyDescriptor, Layout, TrainingDefaults, register

DESCRIPTOR = register(FamilyDescriptor(
    name="sanet",
    summary="style attention at relu4_1 and relu5_1 + merge conv (Park & Lee 2019)",
    builder="stylert.models.attention:build_sanet",
    config="stylert.models.base:ModelConfig",
    export_spec="stylert.export.specs:AttentionExportSpec",
    layouts=(
        Layout("sanet", "sanet", "vgg-normalised",
               {"vgg_normalised.pth": "vgg-normalised", "decoder_iter_500000.pth": "sequential-decoder",
                "transformer_iter_500000.pth": "sanet-transformer"},
               "GlebSBrykin/SANET: vgg_normalised.pth + decoder_iter_*.pth + transformer_iter_*.pth",
               kind="sanet-transformer", public_encoder=True),
    ),
    # GlebSBrykin/SANET train.py: style 3, identity 50 and 1
    training=TrainingDefaults(losses="stylert.training.losses:attention_losses",
                              components=("content", "style", "identity_pixel", "identity_feature"),
                              style_weight=3.0,
                              attention_modules=("transform.sanet4_1", "transform.sanet5_1", "transform.merge_conv")),
))

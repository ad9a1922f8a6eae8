"""Export of trained models to three ONNX graphs (encoder, transform, decoder) and a manifest.

See DESIGN.md, "Three graphs and a manifest". Export arrives with the export issue.
"""

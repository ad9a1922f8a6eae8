"""The torch-free ground floor every other package stands on: standard library, numpy and Pillow.

- ``files``      atomic file writes, atomic directory swaps, SHA-256 of a file
- ``images``     image decoding (EXIF, modes, 16-bit, bombs), encoding, padding, cropping, folders
- ``color``      colour preservation (colour matching, luminance-only transfer)
- ``grid``       labelled image grids; ``chart``: line and bar charts as PNG
- ``machine``    the machine a figure was measured on (CPU, GPU, versions, git commit)
- ``demo``       the procedurally drawn demo content and style images
- ``stylize``    the stylize contract: ``StylizeOptions`` and their validation, shared by the PyTorch
                 reference and the runtime
- ``checks``     one comparison: ``Check``, PSNR, tolerances
- ``providers``  optional accelerator libraries (ONNX Runtime's CUDA provider, TensorRT): what loads
- ``weights``    the registry of weight files (public AdaIN pair): find, verify, fetch

Nothing here imports torch, onnx or another stylert package but ``stylert.errors``.
"""

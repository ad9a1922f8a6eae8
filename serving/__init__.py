"""Serving with NVIDIA Triton Inference Server: a model repository from an export, a local server, a client.

``repository`` writes the repository (one model per graph + the ``stylize`` BLS model, every
``config.pbtxt`` checked against Triton's ``ModelConfig`` protobuf); ``models/`` holds the
python-backend model code copied into it; ``server`` starts and stops a local ``tritonserver``;
``client`` sends images to the ``stylize`` model. Only ``repository``'s validation and ``client``
need ``tritonclient``; nothing here imports torch.
"""

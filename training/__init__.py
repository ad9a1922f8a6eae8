"""Training of the model families with the paper's losses (``stylert train``).

    losses      the losses of each family (AdaIN, multi-level AdaIN, attention + identity losses)
    data        content/style folders, random crops, independent random pairing, the infinite sampler
    initial     the starting model: public encoder (frozen), optionally the public AdaIN decoder
    step        one optimisation step: lr decay, Adam, mixed precision, gradient clipping
    rng         RNG states as tensors (checkpoints load with ``weights_only=True``)
    logs        log.csv, loss.png (PIL), the progress line
    run         a whole run: output folder, checkpoints, samples, exact resume
    throughput  iterations/s of the training step (``benchmarks/train_throughput.py``)
    cli_train   the ``stylert train`` command

Importing this package imports nothing heavy; the modules import torch.
"""

"""Compiled engines (TensorRT FP16 plans, AOTInductor packages) built from exported graphs."""

"""Training of the model families with the paper's losses (``stylert train``)."""

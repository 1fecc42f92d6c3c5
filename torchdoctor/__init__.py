"""torchdoctor: diagnose a PyTorch environment with verdicts, evidence and exact fixes."""

__version__ = "0.1.0"

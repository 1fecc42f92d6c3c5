"""`torchdoctor dist`: diagnose a multi-GPU, multi-node job under the launcher it will really use."""

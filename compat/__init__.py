# The compatibility tables ship inside the wheel as the package torchdoctor.compat_data (see pyproject.toml).

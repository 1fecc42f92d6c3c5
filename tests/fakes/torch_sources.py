"""Sources of fake ``torch`` packages that misbehave, shared by the hostile tests."""

HANGING_IMPORT = "import time\ntime.sleep(3600)\n"
HANGING_SMOKE = """
import time
import types


class _Hangs:
    def __getattr__(self, name):
        time.sleep(3600)


__version__ = "2.13.0"
version = types.SimpleNamespace(cuda=None, hip=None, git_version="", debug=False)
cuda = types.SimpleNamespace(is_available=lambda: False, device_count=lambda: 0)
backends = types.SimpleNamespace()
_C = types.SimpleNamespace()
nn = _Hangs()  # the smoke tests start by building a model: they hang there
"""

# Runs inside the TARGET interpreter (the user's), by path, with a timeout enforced by the parent.
# Standard library + torch only, Python 3.8+. It must never import torchdoctor.
# Protocol: messages on the doctor's channel (_channel_child.py, from this folder):
#   {"stage": "importing"}                     before `import torch` (so a crash is attributed)
#   {"torch": {...}}                           the runtime facts, or the import failure
# When run with "--smoke-cpu DIR" it then hands over to the smoke runner in DIR (same protocol),
# so the CPU smoke tests share this process's torch import.
import os
import re
import sys
import traceback
import warnings

# This folder, named explicitly: under PYTHONSAFEPATH=1 (or -P) the script's folder is not on sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _channel_child

del sys.path[0]  # the examined interpreter's own sys.path, as the user's scripts see it

_channel_child.open_channel()  # before torch runs: it must not see (or inherit) the channel
emit = _channel_child.emit


def working_dir():
    """The working directory, or "" when it has been deleted (os.getcwd() raises then)."""
    try:
        return os.getcwd()
    except OSError:
        return ""


def unavailable(reason, code=""):
    return {"unavailable": True, "source": "torch", "reason": reason, "code": code}


def classify(exc_type, message):
    text = message or ""
    if exc_type == "ModuleNotFoundError":
        return "missing Python module"
    version = re.search(r"version [`'\u2018\"]([A-Za-z_]+)[0-9.]+[`'\u2019\"] not found", text)
    if version and version.group(1) == "GLIBC_":
        return "GLIBC too old"
    if version:  # GLIBCXX_, CXXABI_, a library's own node: not the OS's glibc
        return "a library lacks a symbol version"
    if "undefined symbol" in text:
        return "undefined symbol"
    if "cannot open shared object file" in text or "Library not loaded" in text or "image not found" in text:
        return "missing shared library"
    if "DLL load failed" in text or "WinError 126" in text or "WinError 127" in text or ".dll" in text:
        return "DLL load failed"
    if "_ARRAY_API" in text or "compiled using NumPy 1.x" in text or "numpy.core.multiarray failed" in text:
        return "NumPy ABI"
    return "other"


LIBS = (
    ("cudart", re.compile(r"libcudart\.so")),
    ("cudnn", re.compile(r"libcudnn\.so")),
    ("cublas", re.compile(r"libcublas\.so")),
    ("cublasLt", re.compile(r"libcublasLt\.so")),
    ("nvjitlink", re.compile(r"libnvJitLink\.so")),
    ("cusparse", re.compile(r"libcusparse\.so")),
    ("nccl", re.compile(r"libnccl\.so")),
    ("nvrtc", re.compile(r"libnvrtc\.so")),
    ("cuda driver", re.compile(r"libcuda\.so")),
    ("hip", re.compile(r"libamdhip64\.so")),
)


def loaded_libraries():
    found = []
    seen = set()
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                parts = line.split(None, 5)
                if len(parts) < 6:
                    continue
                path = parts[5].strip()
                if path in seen:
                    continue
                base = os.path.basename(path)
                for name, pattern in LIBS:
                    if pattern.match(base):
                        seen.add(path)
                        found.append({"name": name, "path": path})
                        break
    except OSError:
        pass
    return found


MAX_MAPPED = 400


def mapped_objects():
    """Every shared object mapped into this process, in the order the kernel lists them (the loader's truth)."""
    found = []
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                parts = line.split(None, 5)
                path = parts[5].strip() if len(parts) == 6 else ""
                if path.startswith("/") and ".so" in os.path.basename(path) and path not in found:
                    found.append(path)
                    if len(found) >= MAX_MAPPED:
                        break
    except OSError:
        pass
    return found


def guarded(fn, default=None):
    try:
        return fn()
    except Exception as exc:
        if default is not None:
            return default
        return unavailable("%s: %s" % (type(exc).__name__, exc))


def gfx_arch(props):
    """A ROCm device's gfx target ("gfx1030") from gcnArchName ("gfx1030:sramecc+:xnack-"); "" when absent."""
    try:
        return str(getattr(props, "gcnArchName", "") or "").split(":")[0]
    except Exception:
        return ""


class Broken(Exception):
    """torch imported, but a basic call every program makes fails."""


def runtime_facts(torch, caught):
    cuda = getattr(torch.version, "cuda", None) or ""
    hip = getattr(torch.version, "hip", None) or ""
    facts = {
        "type": "runtime",
        "version": str(torch.__version__),
        "file": getattr(torch, "__file__", "") or "",
        "git_version": getattr(torch.version, "git_version", "") or "",
        "debug": bool(getattr(torch.version, "debug", False)),
        "cuda": cuda,
        "hip": hip,
    }
    if cuda or hip:
        facts["cudnn"] = guarded(lambda: torch.backends.cudnn.version() or 0)
        facts["nccl"] = guarded(lambda: ".".join(str(p) for p in torch.cuda.nccl.version()))
    else:
        facts["cudnn"] = unavailable("not a CUDA build", "not_applicable")
        facts["nccl"] = unavailable("not a CUDA build", "not_applicable")

    def arch_list():
        flags = getattr(torch._C, "_cuda_getArchFlags", None)
        if flags is not None:
            return (flags() or "").split()
        return list(torch.cuda.get_arch_list())

    facts["arch_list"] = guarded(arch_list, default=[]) if (cuda or hip) else []
    try:
        available = bool(torch.cuda.is_available())
    except Exception as exc:  # it returns False on a machine without CUDA; raising means a broken torch
        raise Broken("torch.cuda.is_available() raised %s: %s" % (type(exc).__name__, exc))
    facts["cuda_available"] = available
    facts["device_count"] = int(guarded(torch.cuda.device_count, default=0)) if available else 0
    cuda_error = ""
    if (cuda or hip) and not available:
        try:
            torch.cuda.init()
        except Exception as exc:
            cuda_error = "%s: %s" % (type(exc).__name__, exc)
    devices = []
    for i in range(facts["device_count"]):
        try:
            props = torch.cuda.get_device_properties(i)
            devices.append(
                {
                    "index": i,
                    "name": props.name,
                    "capability": "%d.%d" % (props.major, props.minor),
                    "total_memory": int(props.total_memory),
                    "arch": gfx_arch(props) if hip else "",
                }
            )
        except Exception as exc:
            cuda_error = cuda_error or "%s: %s" % (type(exc).__name__, exc)
    facts["devices"] = devices
    facts["cuda_error"] = cuda_error
    get_driver = getattr(torch._C, "_cuda_getDriverVersion", None)
    if get_driver is not None and cuda:
        facts["driver_cuda"] = guarded(lambda: int(get_driver()))
    else:
        facts["driver_cuda"] = unavailable("not a CUDA build", "not_applicable")
    mps = getattr(torch.backends, "mps", None)
    facts["mps_built"] = bool(mps is not None and guarded(mps.is_built, default=False))
    facts["mps_available"] = bool(mps is not None and guarded(mps.is_available, default=False))
    xpu = getattr(torch, "xpu", None)
    facts["xpu_available"] = bool(xpu is not None and guarded(xpu.is_available, default=False))
    facts["loaded_libraries"] = loaded_libraries()
    facts["mapped"] = mapped_objects()
    numpy = sys.modules.get("numpy")
    facts["numpy"] = str(getattr(numpy, "__version__", "")) if numpy is not None else ""
    facts["warnings"] = caught_messages(caught)
    return facts


def caught_messages(caught):
    out = []
    for w in caught:
        text = "%s: %s" % (w.category.__name__, w.message)
        if text not in out:
            out.append(text[:2000])
    return out


def main(argv):
    # Mirror `python -c "import torch"` from the user's working directory: the cwd comes first.
    sys.path[:1] = [working_dir()]
    emit({"stage": "importing"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            import torch
        except BaseException as exc:  # SystemExit and KeyboardInterrupt inside an import are failures too
            name = type(exc).__name__
            message = str(exc)
            missing = getattr(exc, "name", None) == "torch" or message in (
                "No module named torch",
                "No module named 'torch'",
            )
            if isinstance(exc, ImportError) and missing:
                emit(
                    {
                        "torch": {
                            "type": "not_installed",
                            "python": sys.executable,
                            "reason": "no module named torch on sys.path",
                        }
                    }
                )
                return 0
            tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
            emit(
                {
                    "torch": {
                        "type": "import_failed",
                        "kind": classify(name, message + "\n" + tail),
                        "exc_type": name,
                        "message": message[:4000],
                        "detail": tail[-4000:],
                    }
                }
            )
            return 0
        try:
            facts = runtime_facts(torch, caught)
        except Exception as exc:
            # A torch without torch.version, or whose torch.cuda.is_available() raises, is broken:
            # nothing that uses it will work, so it is reported as a failure, not as unknown facts.
            message = str(exc) if isinstance(exc, Broken) else "%s: %s" % (type(exc).__name__, exc)
            tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
            facts = {
                "type": "import_failed",
                "kind": "imports, but broken",
                "exc_type": type(exc).__name__,
                "message": ("torch imports, but " + message)[:4000],
                "detail": tail[-4000:],
            }
            emit({"torch": facts})
            return 0
    emit({"torch": facts})
    if len(argv) >= 2 and argv[0] == "--smoke-cpu":
        sys.path.insert(0, argv[1])
        import _smoke_child

        _smoke_child.emit = emit
        return _smoke_child.run_devices(torch, ["cpu"], argv[2:])
    return 0


def finish(code):
    # Everything is reported. Skip interpreter finalization: tearing down torch's modules takes longer
    # than a third of `import torch` itself, and the parent has what it needs.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    finish(main(sys.argv[1:]))

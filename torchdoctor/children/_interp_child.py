# Runs inside the TARGET interpreter (the user's), by path. Standard library only, Python 3.8+.
# It must never import torchdoctor, torch or any third-party module: it reads metadata only.
# Sends one message on the channel (_channel_child.py): {"python": {...}, "packages": {...}}
import os
import platform
import site
import struct
import sys
import sysconfig

# This folder, named explicitly: under PYTHONSAFEPATH=1 (or -P) the script's folder is not on sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _channel_child

del sys.path[0]  # the examined interpreter's own sys.path, as the user's scripts see it

_channel_child.open_channel()

try:
    from importlib import metadata as importlib_metadata
except ImportError:  # pragma: no cover - Python < 3.8
    importlib_metadata = None  # type: ignore

try:
    import importlib.util as importlib_util
except ImportError:  # pragma: no cover - Python 2: we still report what this interpreter is
    importlib_util = None  # type: ignore

FAMILY = {
    "torch",
    "torchvision",
    "torchaudio",
    "torchtext",
    "torchdata",
    "torchcodec",
    "triton",
    "pytorch-triton",
    "pytorch-triton-rocm",
    "numpy",
    "pynvml",
    "nvidia-ml-py",
    "nvidia-ml-py3",
    "cuda-python",
    "cuda-bindings",
    "cuda-toolkit",
    "tensorboard",
    "xformers",
    "bitsandbytes",
    "deepspeed",
    "accelerate",
    "flash-attn",
}
KEEP_REQUIRES = {"torch", "torchvision", "torchaudio", "torchcodec", "triton", "xformers"}
READ_MODULES = {"pynvml", "nvidia-ml-py", "nvidia-ml-py3"}


def working_dir():
    """The working directory, or "" when it has been deleted (os.getcwd() raises then)."""
    try:
        return os.getcwd()
    except OSError:
        return ""


def norm(name):
    return name.lower().replace("_", "-").replace(".", "-")


def wanted(name):
    n = norm(name)
    return n in FAMILY or n.startswith("nvidia-") or n.startswith("cuda-")


def python_facts():
    user_site = ""
    try:
        user_site = site.getusersitepackages() or ""
    except Exception:
        pass
    return {
        "executable": sys.executable,
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "bits": struct.calcsize("P") * 8,
        "machine": platform.machine(),
        "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "venv": getattr(sys, "base_prefix", sys.prefix) != sys.prefix,
        "conda_prefix": os.environ.get("CONDA_PREFIX", ""),
        "user_site": user_site,
        "user_site_enabled": bool(site.ENABLE_USER_SITE),
        "cwd": working_dir(),
    }


def modules_of(dist):
    tops = set()
    for entry in dist.files or ():
        parts = str(entry).replace("\\", "/").split("/")
        first = parts[0]
        if first.endswith(".dist-info") or first.endswith(".egg-info") or first == "..":
            continue
        if len(parts) == 1 and first.endswith(".py"):
            tops.add(first[:-3])
        elif len(parts) > 1 and parts[1] == "__init__.py":
            tops.add(first)
    return sorted(tops)


def distributions():
    out = []
    if importlib_metadata is None:
        return out
    for dist in importlib_metadata.distributions():
        folder = getattr(dist, "_path", None)  # the .dist-info / .egg-info folder, where there is one
        problem = ""
        try:
            name = dist.metadata["Name"] or ""
        except Exception as exc:
            name, problem = "", "its METADATA cannot be read (%s)" % type(exc).__name__
        version = ""
        if name:
            try:
                version = dist.version or ""
            except Exception:
                version = ""
        elif folder is not None:  # no name in METADATA: say which package the folder belongs to
            stem = os.path.basename(str(folder)).split(".dist-info")[0].split(".egg-info")[0]
            name, _, version = stem.partition("-")
            problem = problem or "its METADATA is empty or has no Name"
        if not name or not wanted(name):
            continue
        if not problem and norm(name) in KEEP_REQUIRES:
            try:
                if dist.files is None:
                    problem = "it has no RECORD: pip cannot uninstall or upgrade it cleanly"
            except Exception as exc:
                problem = "its RECORD cannot be read (%s)" % type(exc).__name__
        location = ""
        try:
            location = str(dist.locate_file(""))
        except Exception:
            pass
        entry = {"name": name, "version": version, "location": location}
        if problem:
            entry["problem"] = problem
            entry["metadata_dir"] = str(folder or "")
        if norm(name) in KEEP_REQUIRES and not problem:
            entry["requires"] = list(dist.requires or [])
        if norm(name) in READ_MODULES:
            try:
                entry["modules"] = modules_of(dist)
            except Exception:
                pass
        out.append(entry)
    return out


def origin(module):
    if importlib_util is None:
        return {"unavailable": True, "source": "python", "reason": "this Python has no importlib.util", "code": ""}
    try:
        spec = importlib_util.find_spec(module)
    except Exception as exc:
        return {
            "unavailable": True,
            "source": "python",
            "reason": "find_spec failed: %r" % (exc,),
            "code": "",
        }
    if spec is None:
        return {
            "unavailable": True,
            "source": "python",
            "reason": "no module named %s" % module,
            "code": "not_found",
        }
    where = spec.origin or ""
    if not where and spec.submodule_search_locations:
        where = list(spec.submodule_search_locations)[0]
    return where


def packages_facts():
    cwd_torch = os.path.join(working_dir(), "torch")
    # sys.path[0] is this script's folder; the user's own `python -c` or REPL would put the cwd there.
    sys.path[:1] = [working_dir()] if sys.path else []
    return {
        "distributions": distributions(),
        "torch_origin": origin("torch"),
        "pynvml_origin": origin("pynvml"),
        "cwd_torch_dir": cwd_torch if os.path.isdir(cwd_torch) else "",
    }


def main():
    doc = {}
    for key, fn in (("python", python_facts), ("packages", packages_facts)):
        try:
            doc[key] = fn()
        except Exception as exc:
            doc[key] = {
                "unavailable": True,
                "source": "python",
                "reason": "%s: %s" % (type(exc).__name__, exc),
                "code": "",
            }
    _channel_child.emit(doc)


if __name__ == "__main__":
    main()

# Runs inside the TARGET interpreter (the user's), by path. Standard library only, Python 3.8+.
# It must never import torchdoctor, torch or any third-party module: it reads metadata only.
# Sends one message on the channel (_channel_child.py): {"python": {...}, "packages": {...}}
import os
import platform
import re
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
        "environment": guarded(environment_facts),
    }


def guarded(fn):
    try:
        return fn()
    except Exception as exc:
        return {"unavailable": True, "source": "python", "reason": "%s: %s" % (type(exc).__name__, exc), "code": ""}


# Files that say a project tool manages the environment, in the order they are looked for; see
# https://docs.astral.sh/uv/concepts/projects/layout/ (uv.lock), https://python-poetry.org/docs/basic-usage/
# (poetry.lock), https://pipenv.pypa.io/ (Pipfile.lock), https://pdm-project.org/ (pdm.lock), https://pixi.sh/
PROJECT_FILES = (
    ("uv.lock", "uv project"),
    ("poetry.lock", "Poetry"),
    ("Pipfile.lock", "Pipenv"),
    ("pdm.lock", "PDM"),
    ("pixi.lock", "pixi"),
    ("pixi.toml", "pixi"),
)
PYPROJECT_TABLES = (
    ("[tool.uv", "uv project"),
    ("[tool.poetry", "Poetry"),
    ("[tool.pdm", "PDM"),
    ("[tool.hatch", "Hatch"),
    ("[tool.pixi", "pixi"),
)
# Where each tool keeps the environments it makes outside the project folder.
CENTRAL_HOMES = (
    ("/pypoetry/virtualenvs/", "Poetry"),
    ("/.local/share/virtualenvs/", "Pipenv"),
    ("/hatch/env/", "Hatch"),
    ("/pdm/venvs/", "PDM"),
)
CONDA_FAMILY = {
    "pytorch",
    "torch",
    "torchvision",
    "torchaudio",
    "cpuonly",
    "pytorch-cuda",
    "cudatoolkit",
    "pytorch-mutex",
    "pytorch-cpu",
    "pytorch-gpu",
    "libtorch",
}


def read_text(path, limit=200000):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(limit)
    except (OSError, ValueError):
        return ""


def project_marks(folder):
    """[(tool, evidence)] for the project files in one folder."""
    marks = []
    for name, tool in PROJECT_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            marks.append((tool, path))
    text = read_text(os.path.join(folder, "pyproject.toml"))
    for line in text.splitlines():
        for table, tool in PYPROJECT_TABLES:
            if line.strip().startswith(table) and not any(t == tool for t, _ in marks):
                marks.append((tool, os.path.join(folder, "pyproject.toml") + ": " + line.strip()))
    return marks


def find_project(start):
    """(folder, [(tool, evidence)]) of the nearest folder at or above ``start`` with project files."""
    folder = os.path.abspath(start) if start else ""
    while folder:
        marks = project_marks(folder)
        if marks:
            return folder, marks
        parent = os.path.dirname(folder)
        folder = "" if parent == folder else parent
    return "", []


def venv_config(prefix):
    """The key = value lines of pyvenv.cfg (PEP 405), {} when there is none."""
    out = {}
    for line in read_text(os.path.join(prefix, "pyvenv.cfg")).splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def conda_packages(meta):
    out = []
    try:
        names = sorted(os.listdir(meta))
    except OSError:
        return out
    for record in names:
        if not record.endswith(".json"):
            continue
        parts = record[:-5].rsplit("-", 2)
        if len(parts) == 3 and parts[0] in CONDA_FAMILY:
            out.append({"name": parts[0], "version": parts[1], "build": parts[2], "record": os.path.join(meta, record)})
    return out


def managing_project(prefix, venv):
    """(tool, folder, evidence) of the project whose tool made this venv, or None."""
    if not venv:
        return None
    real = os.path.realpath(prefix)
    for start in (os.path.dirname(real), working_dir()):
        folder, marks = find_project(start)
        inside = folder and (real + os.sep).startswith(os.path.realpath(folder) + os.sep)
        for tool, evidence in marks:
            central = any(home in real + "/" and t == tool for home, t in CENTRAL_HOMES)
            if inside or central:
                return tool, folder, evidence
    return None


def manager_of(prefix, venv):
    """(manager, evidence list, project folder)."""
    meta = os.path.join(prefix, "conda-meta")
    if os.path.isdir(meta):
        pixi = "%s.pixi%senvs%s" % (os.sep, os.sep, os.sep)
        if pixi in prefix:
            return "pixi", [prefix], prefix.split(pixi)[0]
        return "conda", [meta], ""
    project = managing_project(prefix, venv)
    if project is not None:
        return project[0], [project[2]], project[1]
    if venv:
        cfg = venv_config(prefix)
        where = os.path.join(prefix, "pyvenv.cfg")
        if "uv" in cfg:
            return "uv venv", ["%s: uv = %s" % (where, cfg["uv"])], ""
        return "pip", [where if cfg else "sys.prefix != sys.base_prefix"], ""
    marker = os.path.join(sysconfig.get_path("stdlib") or "", "EXTERNALLY-MANAGED")
    if os.path.isfile(marker):
        return "externally managed", [marker], ""
    return "pip", ["%s is not a venv and has no EXTERNALLY-MANAGED file" % sys.prefix], ""


def which_python3():
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(folder, "python3")
        if folder and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.realpath(candidate)
    return ""


def found(module):
    try:
        return importlib_util is not None and importlib_util.find_spec(module) is not None
    except Exception:
        return False


def environment_facts():
    venv = getattr(sys, "base_prefix", sys.prefix) != sys.prefix
    manager, evidence, project = manager_of(sys.prefix, venv)
    notebook = [k for k in ("JPY_PARENT_PID", "JPY_SESSION_NAME") if os.environ.get(k)]
    hosted = "colab" if os.environ.get("COLAB_RELEASE_TAG") else ""
    hosted = hosted or ("kaggle" if os.environ.get("KAGGLE_KERNEL_RUN_TYPE") else "")
    meta = os.path.join(sys.prefix, "conda-meta")
    return {
        "manager": manager,
        "evidence": evidence,
        "pip": found("pip"),
        "ensurepip": found("ensurepip"),
        "project": project,
        "conda_packages": conda_packages(meta) if os.path.isdir(meta) else [],
        "notebook": ", ".join("%s=%s" % (k, os.environ[k]) for k in notebook),
        "hosted": hosted,
        "path_python": which_python3(),
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


def unwanted_by_folder(folder):
    """A wheel's .dist-info folder is named for its project (``torch-2.5.1.dist-info``): one that names a
    project we do not report is passed over without parsing its METADATA (most of an environment)."""
    base = os.path.basename(str(folder or ""))
    if not base.endswith(".dist-info"):
        return False
    stem = base[: -len(".dist-info")]
    first = re.match(r"(.+?)-\d", stem)  # name-version; a legacy version may hold a "-" of its own
    return not any(wanted(name) for name in (stem.rpartition("-")[0], first.group(1) if first else stem))


def has_record(dist):
    """Whether the distribution lists its files (what ``dist.files`` reads), without parsing the list: torch's
    RECORD has some 15,000 lines, and turning them into paths took most of this child's time."""
    return any(dist.read_text(name) is not None for name in ("RECORD", "installed-files.txt", "SOURCES.txt"))


def distributions():
    out = []
    if importlib_metadata is None:
        return out
    for dist in importlib_metadata.distributions():
        folder = getattr(dist, "_path", None)  # the .dist-info / .egg-info folder, where there is one
        if unwanted_by_folder(folder):
            continue
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
                if not has_record(dist):
                    problem = "it has no RECORD: pip cannot uninstall or upgrade it cleanly"
            except Exception as exc:
                problem = "its RECORD cannot be read (%s)" % type(exc).__name__
        location = ""
        try:
            location = str(dist.locate_file(""))
        except Exception:
            pass
        entry = {"name": name, "version": version, "location": location}
        try:
            installer = (dist.read_text("INSTALLER") or "").strip()
        except Exception:
            installer = ""
        if installer:
            entry["installer"] = installer[:40]
        if problem:
            entry["problem"] = problem
            entry["metadata_dir"] = str(folder or "")
        if norm(name) in KEEP_REQUIRES and not problem:
            entry["requires"] = list(dist.requires or [])
            entry["metadata_dir"] = str(folder or "")  # names each copy when two share one folder
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
    # Said: leave without the interpreter's teardown, which the doctor would otherwise wait for.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(0)

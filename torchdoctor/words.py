"""How counts are said, the same in every format: "1 warning", "2 warnings"."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word}es" if word.endswith(("s", "x", "ch", "sh")) else f"{n} {word}s"


def counts(summary: dict[str, int]) -> str:
    """ "1 error, 2 warnings, 0 notes; 35 checks passed, 8 could not run" from Report.summary()."""
    return (
        f"{plural(summary['errors'], 'error')}, {plural(summary['warnings'], 'warning')}, "
        f"{plural(summary['info'], 'note')}; {plural(summary['checks_passed'], 'check')} passed, "
        f"{summary['checks_skipped']} could not run"
    )


def some_of(names: list[str], shown: int) -> str:
    """ "a, b, c and 5 more": the first ``shown`` names, then how many were left out."""
    head = ", ".join(names[:shown])
    return head + (f" and {len(names) - shown} more" if len(names) > shown else "")


def grouped(names: list[str]) -> str:
    """ "8 × NVIDIA H100 80GB HBM3" for identical names, in the order first seen; each once, counted when repeated."""
    counted: dict[str, int] = {}
    for name in names:
        counted[name] = counted.get(name, 0) + 1
    return ", ".join(f"{n} × {name}" if n > 1 else name for name, n in counted.items())


def gpu_indices(indices: list[int]) -> str:
    """ "GPU 3", "GPUs 0-6", "GPUs 0, 2 and 5": GPUs named by their indices, runs of them as ranges."""
    ordered = sorted(set(indices))
    if len(ordered) == 1:
        return f"GPU {ordered[0]}"
    runs: list[list[int]] = []
    for i in ordered:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    said = [f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs]
    return "GPUs " + (", ".join(said[:-1]) + " and " + said[-1] if len(said) > 1 else said[0])

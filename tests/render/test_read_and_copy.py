"""What people read and copy: identical GPUs said once, prompts out of the copied text, ASCII stand-ins, one
unit rule for bench figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests import factories as f
from torchdoctor.bench.checks import all_bench_checks  # noqa: F401  (registers the bench checks)
from torchdoctor.commands.recommend import described
from torchdoctor.compat.recommend import Gpu, Machine
from torchdoctor.doctor import judge
from torchdoctor.model import BenchMetric, DeviceBench, Facts
from torchdoctor.nvidia import gpu_line
from torchdoctor.render import OutputFormat, render
from torchdoctor.render.bench import device_summary, metric_line
from torchdoctor.render.html import command_html

H100 = "NVIDIA H100 80GB HBM3"
GIB = 1024**3


def eight_busy_gpus() -> Facts:
    gpus = [
        f.gpu(i, name=H100, compute_capability="9.0", memory_used=75 * GIB, processes=(f.process(100 + i),))
        for i in range(8)
    ]
    return f.facts(nvml=f.nvml(*gpus))


def test_identical_busy_gpus_are_one_in_use_note_in_the_gpu_line() -> None:
    line = gpu_line(eight_busy_gpus())
    assert line.count("in use") == 1 and "GPUs 0-7 in use: 75.0 GiB of 80.0 GiB held by 1 process" in line
    assert line.startswith(f"8 × {H100}")


def test_a_gpu_busy_unlike_the_others_is_named_on_its_own() -> None:
    facts = eight_busy_gpus()
    gpus = list(facts.nvml.gpus)
    gpus[3] = f.gpu(3, name=H100, compute_capability="9.0", memory_used=10 * GIB, utilization_pct=97)
    line = gpu_line(f.facts(nvml=f.nvml(*gpus)))
    assert "GPUs 0-2 and 4-7 in use: 75.0 GiB" in line and "GPU 3 in use: 97% busy" in line


def test_recommends_header_says_identical_gpus_once() -> None:
    machine = Machine("linux-x86_64", "3.12", driver="580.65.06", gpus=tuple(Gpu(90, H100) for _ in range(8)))
    assert described(machine).endswith(f"driver 580.65.06, 8 × {H100} (sm_90)")


def test_the_html_key_facts_give_identical_gpus_one_row() -> None:
    page = render(judge(eight_busy_gpus()), OutputFormat.HTML)
    facts = page.split('<table class="facts">', 1)[1].split("</table>", 1)[0]
    assert facts.count(H100) == 1 and "<th>GPUs 0-7</th>" in facts


def test_the_html_prompt_is_drawn_by_css_so_a_copied_command_is_only_the_command() -> None:
    block = command_html("python -m pip install torch")
    assert re.fullmatch(r"<pre class='command'>python -m pip install torch</pre>", block)
    page = render(judge(f.facts(torch=f.cpu_runtime())), OutputFormat.HTML)
    assert "class='command'>$" not in page
    assert re.search(r"pre\.command::before \{ content: \"\$ \";[^}]*user-select: none", page)


def test_under_an_ascii_locale_the_report_uses_ascii_stand_ins_not_question_marks(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_text(render(judge(eight_busy_gpus()), OutputFormat.JSON))
    env = {"PYTHONIOENCODING": "ascii", "NO_COLOR": "1", "COLUMNS": "100", "PATH": "/usr/bin:/bin"}
    for args in (["check", "--from", str(report)], ["fleet", str(report)]):
        out = subprocess.run(
            [sys.executable, "-m", "torchdoctor", *args], capture_output=True, env=env, timeout=120, check=False
        ).stdout
        text = out.decode("ascii")
        assert f"8 x {H100}" in text and "?" not in text, text


def test_a_cpus_figure_is_in_gflops_in_the_headline_and_the_detail_alike() -> None:
    cpu = DeviceBench("cpu", "CPU", "", (BenchMetric("matmul", "fp32", 0.038, "TFLOP/s"),))
    assert device_summary(cpu) == "cpu: fp32 matmul 38.0 GFLOP/s"
    detail = metric_line(cpu.metrics[0], None, True)
    assert "38.0 GFLOP/s" in detail and "TFLOP/s" not in detail

#!/usr/bin/env bash
# Run on a GPU host from the repository root: torchdoctor with smoke tests on every GPU, then the GPU tests.
# Writes report.json, report.md and gpu-tests.log into ${OUT:-./gpu-check-out}.
set -uo pipefail
out="${OUT:-./gpu-check-out}"
mkdir -p "$out"
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$(pwd)" PYTHONUNBUFFERED=1 NO_COLOR=1
py="${PYTHON:-python3}"

echo "== nvidia-smi"; nvidia-smi -L || true
echo "== torchdoctor check -v (smoke on every device)"
"$py" -m torchdoctor check -v --device all; check_rc=$?
"$py" -m torchdoctor check --no-smoke -f json -o "$out/report.json" >/dev/null 2>&1 || true
"$py" -m torchdoctor check --format markdown -o "$out/report.md" >/dev/null 2>&1 || true
echo "== torchdoctor smoke --device cuda -v"
"$py" -m torchdoctor smoke --device cuda -v; smoke_rc=$?
echo "== torchdoctor dist (nccl, every visible GPU)"
ngpu=$("$py" -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)
"$py" -m torchdoctor dist -v; dist1_rc=$?
if [ "${ngpu:-0}" -gt 1 ]; then "$py" -m torchdoctor dist --nproc "$ngpu" -f json -o "$out/dist.json"; fi
"$py" -m torchdoctor dist --nproc "${ngpu:-1}" -v; dist_rc=$?
echo "== pytest -m gpu"
"$py" -m pytest -m gpu -q -p no:cacheprovider tests/gpu 2>&1 | tee "$out/gpu-tests.log"; test_rc=${PIPESTATUS[0]}
echo "== exit codes: check=$check_rc smoke=$smoke_rc dist(world 1)=$dist1_rc dist=$dist_rc gpu-tests=$test_rc"
[ "$smoke_rc" -eq 0 ] && [ "$test_rc" -eq 0 ] && [ "$dist_rc" -eq 0 ]

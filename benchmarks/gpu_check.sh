#!/usr/bin/env bash
# One-shot GPU check of logitkit, run from the repository root on a machine with a GPU:
#
#     OUT=/some/folder bash benchmarks/gpu_check.sh
#
# 1. installs carried wheels (pydantic & co.) from .whl/ when that folder exists
#    (offline: --no-index), into /tmp/site;
# 2. prints the GPU and the torch / CUDA versions;
# 3. runs the CUDA tests (tests/cuda and the CUDA test of tests/predict/test_hashed.py)
#    -> $OUT/cuda_tests.log;
# 4. runs benchmarks/gpu.py -> $OUT/gpu_bench.log (one JSON line per measurement).
#
# The package is not installed: PYTHONPATH holds this checkout. Every step is bounded by
# `timeout`, so the whole script ends in under 8 minutes (tests <= 240 s, benchmark
# <= 210 s, set-up a few seconds); a step that runs out of time leaves what it printed.
set -u
OUT=${OUT:-$PWD/gpu_out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
T0=$(date +%s)

export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if compgen -G ".whl/*.whl" > /dev/null; then
    echo "== installing carried wheels: $(ls .whl | tr '\n' ' ')"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1
export LOGITKIT_TEST_DEVICE=${LOGITKIT_TEST_DEVICE:-cuda}

echo "== device"
nvidia-smi -L 2>&1 || echo "nvidia-smi not available"
"$PY" - <<'EOF' 2>&1 | tee "$OUT/environment.log"
import platform, torch
print("python", platform.python_version(), "| torch", torch.__version__, "| built for CUDA", torch.version.cuda,
      "| cuda available", torch.cuda.is_available(), "| devices", torch.cuda.device_count())
if torch.cuda.is_available():
    print("gpu", torch.cuda.get_device_name(0), "| capability", torch.cuda.get_device_capability(0),
          "| nccl", torch.cuda.nccl.version() if hasattr(torch.cuda, "nccl") else None)
import numpy, scipy, sklearn, statsmodels, pyarrow, pydantic, yaml, safetensors
print("numpy", numpy.__version__, "| scipy", scipy.__version__, "| sklearn", sklearn.__version__,
      "| statsmodels", statsmodels.__version__, "| pyarrow", pyarrow.__version__, "| pydantic", pydantic.__version__)
import logitkit
print("logitkit", logitkit.__version__, "from", logitkit.__file__)
EOF
"$PY" -m logitkit --help > /dev/null 2>&1 && echo "python -m logitkit: ok" || echo "python -m logitkit: FAILED"

echo "== CUDA tests"
TIMEOUT_FLAG=""
if "$PY" -c "import pytest_timeout" 2>/dev/null; then
    TIMEOUT_FLAG="--timeout 120"  # per test; a hung kernel or collective fails that test only
fi
# (-q comes from pyproject addopts) --maxfail instead of -x: one device bug must not hide the others in a single session
timeout -k 10 240 "$PY" -m pytest tests/cuda tests/predict/test_hashed.py -k "cuda or Cuda" -rfEs \
    --maxfail=25 -p no:cacheprovider $TIMEOUT_FLAG --durations=10 2>&1 | tee "$OUT/cuda_tests.log"
echo "tests exit: ${PIPESTATUS[0]} (124 = out of time)" | tee -a "$OUT/cuda_tests.log"

echo "== benchmark"
timeout -k 10 210 "$PY" benchmarks/gpu.py 2>&1 | tee "$OUT/gpu_bench.log"
echo "benchmark exit: ${PIPESTATUS[0]} (124 = out of time)" | tee -a "$OUT/gpu_bench.log"
echo "== done in $(( $(date +%s) - T0 )) s; logs in $OUT"

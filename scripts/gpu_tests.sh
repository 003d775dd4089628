#!/usr/bin/env bash
# Run the gpu-marked tests on a CUDA machine without internet (the project's lent H100).
# Wheels for what that machine lacks are carried in .whl/ (see README "GPU"); gsplat
# JIT-compiles its CUDA kernels on first use (~80 s on an H100), timed here on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1 MAX_JOBS="${MAX_JOBS:-16}" TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
start=$(date +%s)
python3 -c 'from gsplat.cuda._backend import _C; assert _C is not None, "gsplat CUDA build failed"'
echo "gsplat build: $(( $(date +%s) - start )) s"
# Without arguments: the test files that hold gpu tests (the others may import CPU-only extras
# such as open3d, which an offline GPU machine lacks).
if [ "$#" -eq 0 ]; then set -- $(grep -rl "mark.gpu" tests --include="test_*.py" | sort); fi
python3 -m pytest -q -p no:cacheprovider -m gpu -s -rs "$@"

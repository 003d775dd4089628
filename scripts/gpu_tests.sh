#!/usr/bin/env bash
# Run the gpu-marked tests on a CUDA machine without internet (the project's lent H100).
# Wheels for what that machine lacks are carried in .whl/ (see README "GPU"): a gsplat wheel
# with its CUDA extension prebuilt there loads at once; the plain one JIT-compiles its kernels
# on first use (~80-120 s on an H100 / H200), timed here on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  # lyra-sim itself as installed (envs/ and exporters/ become lyra_sim.envs, lyra_sim.exporters).
  python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --upgrade --target /tmp/site .
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
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
# PYTHONSAFEPATH: `python -m` would put the repository root first on sys.path, and its lyra_sim/ (without the
# envs/ and exporters/ that the installed package maps in) would shadow the installed one.
PYTHONSAFEPATH=1 python3 -m pytest -q -o addopts="-ra --import-mode=importlib" -p no:cacheprovider -m gpu -s -rs "$@"

#!/usr/bin/env bash
# One-step setup on a fresh Linux machine: system library, virtual environment, package.
#   bash scripts/setup.sh          # runtime (CPU) install into .venv
#   bash scripts/setup.sh --dev    # plus the test tools (and the chromium the viewer test drives)
# Environment: LYRA_SIM_TORCH overrides the torch requirement (default torch==2.13.0; set it
# to e.g. "torch" to take your platform's default build, CUDA included).
set -euo pipefail
cd "$(dirname "$0")/.."

# [cpu]: numba, the compiled rasterizer of the environments' CPU observations ([dev] includes it).
extras="[cpu]"
dev=""
for arg in "$@"; do
  case "$arg" in
    --dev) extras="[dev]"; dev=1 ;;
    *) echo "setup.sh: unknown option '$arg' (accepted: --dev)" >&2; exit 2 ;;
  esac
done

# open3d (collision meshes) links against libusb-1.0 at import time.
if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq libusb-1.0-0 >/dev/null
fi

# The viewer's browser test (--dev) drives Debian's chromium through Playwright (no browser download).
if [ -n "$dev" ] && ! command -v chromium >/dev/null 2>&1; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build on a CPU-only machine.
.venv/bin/python -c 'import torch' 2>/dev/null || "${pip[@]}" "${LYRA_SIM_TORCH:-torch==2.13.0}"
"${pip[@]}" -e ".${extras}"
# pip compiles what it installs, but an editable install leaves this checkout's modules as source: where
# PYTHONDONTWRITEBYTECODE is set (CI, some containers) every command compiled them again (0.25 s of start-up).
.venv/bin/python -m compileall -q -j 0 lyra_sim envs exporters >/dev/null
echo "lyra-sim is set up in .venv ($(.venv/bin/lyra-sim --version))"

#!/usr/bin/env bash
# Train, evaluate and package the default decoder (lyra_sim/decoder/weights/lyra_small.safetensors).
#
#   bash scripts/distill_h100.sh                      # one GPU
#   NPROC=2 bash scripts/distill_h100.sh              # DDP over 2 GPUs (same global batch)
#
# Steps: CUDA smoke tests → teacher caches (train + held-out) → training → held-out table on the GPU and on the CPU.
# Everything is resumable: rerunning skips cached scenes and resumes from runs/distill_small/latest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-configs/distill_small.json}
NPROC=${NPROC:-1}
PY=${PY:-python}
RUN_DIR=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['run']['out_dir'])" "$CONFIG")
export NCCL_NVLS_ENABLE=0

launch() {
  if [ "$NPROC" -gt 1 ]; then
    $PY -m torch.distributed.run --standalone --nproc_per_node="$NPROC" -m lyra_sim.training "$@"
  else
    $PY -m lyra_sim.training "$@"
  fi
}

# One-minute smoke test of the CUDA path (bf16 autocast, gsplat renders, fused AdamW).
$PY -m pytest -q -m gpu tests/test_decoder.py tests/test_distill.py
launch --config "$CONFIG" --build-cache train
launch --config "$CONFIG" --build-cache eval
launch --config "$CONFIG"
$PY -m lyra_sim.training.evaluation --config "$CONFIG" --checkpoint "$RUN_DIR/decoder.safetensors" --device cuda \
  --json "$RUN_DIR/eval_cuda.json" | tee "$RUN_DIR/eval_cuda.md"
$PY -m lyra_sim.training.evaluation --config "$CONFIG" --checkpoint "$RUN_DIR/decoder.safetensors" --device cpu \
  --scenes 6 --json "$RUN_DIR/eval_cpu.json" | tee "$RUN_DIR/eval_cpu.md"
ls -l "$RUN_DIR/decoder.safetensors"
echo "ship it: mkdir -p lyra_sim/decoder/weights && cp $RUN_DIR/decoder.safetensors lyra_sim/decoder/weights/lyra_small.safetensors"

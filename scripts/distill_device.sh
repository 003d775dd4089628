#!/usr/bin/env bash
# One ten-minute visit to the lent H100 (no internet): train the default decoder, evaluate it
# on held-out scenes, and hand the results back through $OUT. Each stage is time-boxed so
# the visit always ends with a checkpoint and a table; training resumes from its last
# checkpoint if it is cut short.
#   bash scripts/distill_device.sh [CONFIG] [TRAIN_SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-configs/distill_small_10min.json}
TRAIN_S=${2:-300}
OUT=${OUT:-runs/out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 MAX_JOBS=16 TORCH_CUDA_ARCH_LIST=9.0
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD"
fi
RUN=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['run']['out_dir'])" "$CONFIG")
t0=$(date +%s); stamp() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
stamp "building gsplat"; python3 -c 'from gsplat.cuda._backend import _C; assert _C is not None'
stamp "teacher cache"
timeout 150 python3 -m lyra_sim.training --config "$CONFIG" --build-cache train
timeout 60 python3 -m lyra_sim.training --config "$CONFIG" --build-cache eval
# Train on however many consecutive seeds the cache holds (the build may have been cut short).
python3 - "$CONFIG" <<'PY'
import json, sys
from pathlib import Path
from lyra_sim.training.teacher_cache import cache_path
c = json.load(open(sys.argv[1])); d = c["data"]; n = 0
while n < d["train_scenes"] and cache_path(Path(d["cache_dir"]), d["train_seed_start"] + n).exists():
    n += 1
print(f"training scenes cached: {n} of {d['train_scenes']}"); d["train_scenes"] = n
json.dump(c, open(sys.argv[1] + ".run.json", "w"), indent=2)
PY
stamp "training (at most ${TRAIN_S}s)"
timeout "$TRAIN_S" python3 -m lyra_sim.training --config "$CONFIG.run.json"
CKPT="$RUN/decoder.safetensors"
if [ ! -f "$CKPT" ]; then  # cut short: take the newest periodic checkpoint
  CKPT="$RUN/$(python3 -c "import json; print(json.load(open('$RUN/latest.json'))['checkpoint'])")/decoder.safetensors"
fi
stamp "evaluating $CKPT"
python3 -m lyra_sim.training.evaluation --config "$CONFIG.run.json" --checkpoint "$CKPT" --device cuda --json "$OUT/eval_cuda.json" | tee "$OUT/eval_cuda.md"
cp "$RUN/metrics.jsonl" "$OUT/" 2>/dev/null
split -b 15m "$CKPT" "$OUT/decoder.safetensors.part."
stamp "done"

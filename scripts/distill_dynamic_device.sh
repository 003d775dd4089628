#!/usr/bin/env bash
# One visit of at most seven minutes to ONE lent H200 (no internet; gsplat preinstalled as a wheel):
# fine-tune the time-conditioned decoder from the shipped static one on dynamic teacher scenes,
# evaluate it on held-out dynamic scenes (unseen seeds and prompts) beside the static baselines, and
# hand the table and the checkpoint back through $OUT. Every stage is time-boxed (`timeout`), so
# the visit always ends with a checkpoint (and a table unless EVAL_S=0); training resumes from its last checkpoint.
#   bash scripts/distill_dynamic_device.sh [CONFIG] [TRAIN_SECONDS]
# Environment: DEVICE (cuda), INIT (checkpoint to start from; default: the config's train.init_from),
# BASELINE (static decoder of the baselines, default: the shipped one), CACHE_S, EVAL_S (stage
# budgets, seconds; 0 skips the stage: CACHE_S=0 trains on what is cached, EVAL_S=0 hands back the
# checkpoint of a round that the next one, on the machine still warm, starts from with INIT=),
# OUT (where results go), PYTHON.
set -uo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-configs/distill_dynamic_small.json}
TRAIN_S=${2:-160}
CACHE_S=${CACHE_S:-110}
EVAL_S=${EVAL_S:-90}
DEVICE=${DEVICE:-cuda}
BASELINE=${BASELINE:-default}
PY=${PYTHON:-python3}
OUT=${OUT:-runs/out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 MAX_JOBS=16 TORCH_CUDA_ARCH_LIST=9.0
if compgen -G ".whl/*.whl" >/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD"
fi
RUN=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['run']['out_dir'])" "$CONFIG")
t0=$(date +%s); stamp() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
if [ "$DEVICE" = cuda ]; then
  stamp "gsplat"; $PY -c 'from gsplat.cuda._backend import _C; assert _C is not None'
fi
if [ "$CACHE_S" -gt 0 ]; then
  stamp "teacher cache (at most ${CACHE_S}s)"
  timeout "$CACHE_S" $PY -m lyra_sim.training --config "$CONFIG" --build-cache train --device "$DEVICE"
fi
# Train on however many consecutive seeds the cache holds (the build may have been cut short).
$PY - "$CONFIG" <<'PY'
import json, sys
from pathlib import Path
from lyra_sim.training.config import DistillConfig
from lyra_sim.training.teacher_cache import cache_path
d = DistillConfig.load(sys.argv[1]).data; n = 0
while n < d.train_scenes and cache_path(Path(d.cache_dir), d.train_seed_start + n).exists():
    n += 1
print(f"training scenes cached: {n} of {d.train_scenes}")
c = json.load(open(sys.argv[1])); c.setdefault("data", {})["train_scenes"] = max(n, 1)
if n == 0:
    c["data"]["cache_dir"] = None  # nothing cached: render while training
json.dump(c, open(sys.argv[1] + ".run.json", "w"), indent=2)
PY
stamp "training (at most ${TRAIN_S}s)"
timeout "$TRAIN_S" $PY -m lyra_sim.training --config "$CONFIG.run.json" --device "$DEVICE" ${INIT:+--init-from "$INIT"}
CKPT="$RUN/decoder.safetensors"
if [ ! -f "$CKPT" ] && [ -f "$RUN/latest.json" ]; then  # cut short: the newest periodic checkpoint
  CKPT="$RUN/$($PY -c "import json; print(json.load(open('$RUN/latest.json'))['checkpoint'])")/decoder.safetensors"
fi
if [ ! -f "$CKPT" ]; then  # not even one step: the initialized decoder (the static one, time weights at zero)
  stamp "no training checkpoint: writing the initialized decoder"
  CKPT="$RUN/initial.safetensors"
  $PY - "$CONFIG.run.json" "$CKPT" "${INIT:-}" <<'PY'
import sys
from lyra_sim.decoder import LyraDecoder, load_initial_weights, resolve_checkpoint, save_decoder
from lyra_sim.training.config import DistillConfig
from lyra_sim.training.resume import checkpoint_extra
c = DistillConfig.load(sys.argv[1]); model = LyraDecoder(c.decoder, seed=c.train.seed)
init = sys.argv[3] or c.train.init_from
if init:
    load_initial_weights(resolve_checkpoint(init), model)
save_decoder(sys.argv[2], model, checkpoint_extra(c, 0))
PY
fi
if [ ! -f "$CKPT" ]; then  # the visit still hands back what it logged
  cp "$RUN/metrics.jsonl" "$OUT/" 2>/dev/null
  stamp "no checkpoint could be written (see the errors above): nothing to evaluate"; exit 1
fi
if [ "$EVAL_S" -gt 0 ]; then
  stamp "evaluating $CKPT (at most ${EVAL_S}s)"
  timeout "$EVAL_S" $PY -m lyra_sim.training.dynamic_evaluation --config "$CONFIG.run.json" --checkpoint "$CKPT" \
    --baseline "$BASELINE" --device "$DEVICE" --budget $(( EVAL_S - 25 )) --json "$OUT/eval_dynamic.json" \
    | tee "$OUT/eval_dynamic.md"
else  # a training round whose checkpoint the next round starts from (INIT=), on a machine still warm
  stamp "evaluation skipped (EVAL_S=0)"
fi
cp "$RUN/metrics.jsonl" "$OUT/" 2>/dev/null
if [ "$(stat -c %s "$CKPT")" -lt 16000000 ]; then
  cp "$CKPT" "$OUT/decoder_dynamic.safetensors"
else
  split -b 15m "$CKPT" "$OUT/decoder_dynamic.safetensors.part."
fi
sha256sum "$CKPT" | tee "$OUT/decoder_dynamic.sha256"
stamp "done"

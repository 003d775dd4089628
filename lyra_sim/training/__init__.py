"""Self-distillation of the 3DGS decoder from a world model (Lyra, arXiv 2509.19296, §3.3).

    world model ──imagine──▶ multi-view video ──codec.encode──▶ latents ──decoder──▶ Gaussians
                                  │                                                    │ render at the
                                  └──codec.decode(codec.encode(·))── teacher RGB ◀─loss─┘ video's cameras
                                                                                          + held-out views

One concept per module:

- `config`: `DistillConfig` and its sections (JSON run files);
- `teacher_cache`: the world's frames as supervision, rendered on the fly or cached;
- `losses`: MSE, SI-depth, LPIPS, and the loss of one step;
- `loop`: `train` (resumable; DDP under torchrun); `resume`: checkpoints of the training state;
- `distributed`: rank, world size and device; `evaluation`: held-out novel-view PSNR / SSIM;
- `command`: ``lyra-sim distill`` / ``python -m lyra_sim.training``.
"""

from .config import DataSettings, DistillConfig, LossSettings, RunSettings, TrainSettings
from .distributed import DistEnv, init_distributed
from .loop import TrainResult, train
from .teacher_cache import build_cache

__all__ = ["DataSettings", "DistEnv", "DistillConfig", "LossSettings", "RunSettings", "TrainResult", "TrainSettings",
           "build_cache", "init_distributed", "train"]

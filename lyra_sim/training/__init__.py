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

from importlib import import_module

_EXPORTS = {
    "DataSettings": "config", "DistillConfig": "config", "LossSettings": "config", "RunSettings": "config",
    "TrainSettings": "config", "DistEnv": "distributed", "init_distributed": "distributed",
    "TrainResult": "loop", "train": "loop", "build_cache": "teacher_cache",
}
"""Public name → the submodule defining it, imported on first use (PEP 562): ``lyra-sim`` builds the
``distill`` parser from `command` at every start-up, which must not load the training loop."""

__all__ = ["DataSettings", "DistEnv", "DistillConfig", "LossSettings", "RunSettings", "TrainResult", "TrainSettings",
           "build_cache", "init_distributed", "train"]


def __getattr__(name: str):
    if name not in _EXPORTS:  # __all__ lists the same names
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)

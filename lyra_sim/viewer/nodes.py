"""The splats as viser scene nodes: one scene, or a dynamic scene's Gaussians at each of its times.

viser merges every splat node of a page into one buffer that the browser sorts as a whole
(hidden nodes included: they are only moved off screen), and changing a node re-uploads and
re-sorts that whole buffer. So a dynamic scene is split (`static_mask`) into the Gaussians that
are the same at every time (the room and its furniture: most of a procedural scene), sent once
as one node, and the moving rest, shown per time in one of two ways (`benchmarks/viewer_startup.py`):

- ``"nodes"``: one node per time, preloaded, the current one visible. A time step is one small
  visibility message: no upload and no re-sort. Chosen while the moving parts of all times
  together stay within `PRELOAD_GAUSSIANS` (the page then sorts at most that many extra).
- ``"swap"``: one node whose Gaussians are replaced at each time step (`set_gaussians`: one
  message of 32 bytes per moving Gaussian). For scenes whose Gaussians all change (a decoder's
  output per time), where preloading would multiply what the page draws and sorts by T.

All nodes hang under one frame, ``/splats``, whose visibility is the "Show splats" toggle.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from lyra_sim.scene import GaussianScene

from .splats import label_rgbs, splat_arrays

COLOR_MODES = ("appearance", "semantic label")
PRELOAD_GAUSSIANS = 2_000_000
"""Most moving Gaussians, summed over all times, preloaded as one node per time (64 MB to the browser)."""
STRATEGIES = ("nodes", "swap")


def static_mask(scenes: Sequence[GaussianScene]) -> Tensor:
    """``[N] bool``: the Gaussians of ``scenes[0]`` equal (every field, bit for bit) at every time.

    All False when the scenes differ in size (no Gaussian correspondence across times).
    """
    first = scenes[0]
    if any(len(s) != len(first) for s in scenes):
        return torch.zeros(len(first), dtype=torch.bool)
    same = torch.ones(len(first), dtype=torch.bool, device=first.device)
    for s in scenes[1:]:
        same &= (s.means == first.means).all(1) & (s.quats == first.quats).all(1) & (s.scales == first.scales).all(1)
        same &= (s.opacities == first.opacities) & (s.sh == first.sh).flatten(1).all(1)
        if first.labels is not None:
            same &= s.labels == first.labels
    return same.cpu()


def moving_total(scenes: Sequence[GaussianScene]) -> int:
    """The Gaussians of every time that are not in the static part (`static_mask`), summed over times."""
    if len(scenes) < 2:
        return 0
    static = int(static_mask(scenes).sum())
    return sum(len(s) - static for s in scenes)


class SplatPart:
    """Some Gaussians as viser arrays: ``arrays`` (`splat_arrays`) and their colour per mode."""

    def __init__(self, scene: GaussianScene, modes: Sequence[str]) -> None:
        self.size = len(scene)
        self.arrays = splat_arrays(scene)
        self.rgbs = {"appearance": self.arrays["rgbs"]}
        if "semantic label" in modes:
            self.rgbs["semantic label"] = label_rgbs(scene)

    def gaussians(self, mode: str, fade: float) -> dict[str, np.ndarray]:
        """The arguments of ``set_gaussians`` coloured by ``mode``, opacities times ``fade``."""
        a = self.arrays
        return {"centers": a["centers"], "covariances": a["covariances"], "rgbs": self.rgbs[mode],
                "opacities": a["opacities"] * fade}


class SplatNodes:
    """The splats of ``scenes`` (one per time; one for a static scene) in ``server``'s scene.

    Args:
        strategy: how the moving part is shown, one of `STRATEGIES`; None picks ``"nodes"``
            when the moving Gaussians of all times sum to at most `PRELOAD_GAUSSIANS`.

    Attributes:
        modes: the colour modes the scene supports (semantic label only with labels).
        index: the time shown.
        static, moving: the parts (``moving`` empty for a static scene, ``static`` None when
            no Gaussian stays put).
    """

    def __init__(self, server, scenes: Sequence[GaussianScene], strategy: str | None = None) -> None:
        if strategy is not None and strategy not in STRATEGIES:
            raise ValueError(f"strategy {strategy!r}: accepted {', '.join(STRATEGIES)}")
        self.scenes = list(scenes)
        first = self.scenes[0]
        self.modes = COLOR_MODES if first.labels is not None and first.label_names else COLOR_MODES[:1]
        self.mode, self.fade, self.index = COLOR_MODES[0], 1.0, 0
        self.frame = server.scene.add_frame("/splats", show_axes=False)
        keep = static_mask(self.scenes) if len(self.scenes) > 1 else torch.ones(len(first), dtype=torch.bool)
        self.static = SplatPart(first.select(keep), self.modes) if keep.any() else None
        self.static_node = None
        if self.static is not None:
            self.static_node = server.scene.add_gaussian_splats("/splats/static", **self.static.gaussians(self.mode, 1.0))
        self._moving_index = torch.nonzero(~keep).flatten() if len(keep) == len(first) and keep.any() else None
        total = sum(len(s) - int(keep.sum()) for s in self.scenes) if len(self.scenes) > 1 else 0  # = moving_total
        self.strategy = strategy or ("nodes" if total <= PRELOAD_GAUSSIANS else "swap")
        self.moving: list[SplatPart | None] = []
        self.moving_nodes: list = []
        if len(self.scenes) > 1 and total:
            if self.strategy == "nodes":
                self.moving = [self._part(i) for i in range(len(self.scenes))]
                self.moving_nodes = [
                    server.scene.add_gaussian_splats(f"/splats/t{i:04d}", **p.gaussians(self.mode, 1.0), visible=i == 0)
                    if p is not None else None for i, p in enumerate(self.moving)]
            else:
                self.moving = [self._part(0)]
                self.moving_nodes = [server.scene.add_gaussian_splats("/splats/moving", **self.moving[0].gaussians(self.mode, 1.0))]

    def _part(self, index: int) -> SplatPart | None:
        """The moving Gaussians at time ``index`` (None if there are none)."""
        scene = self.scenes[index]
        part = scene.select(self._moving_index) if self._moving_index is not None else scene
        return SplatPart(part, self.modes) if len(part) else None

    @property
    def visible(self) -> bool:
        return self.frame.visible

    @visible.setter
    def visible(self, value: bool) -> None:
        self.frame.visible = value

    def show(self, index: int) -> None:
        """Show the Gaussians of time ``index``."""
        if not 0 <= index < len(self.scenes):
            raise ValueError(f"index: expected 0..{len(self.scenes) - 1}, got {index}")
        if index == self.index:
            return
        previous, self.index = self.index, index
        if self.strategy == "nodes":
            old, new = self.moving_nodes[previous], self.moving_nodes[index]
            if new is not None:
                new.visible = True
            if old is not None:
                old.visible = False
        elif self.moving_nodes:
            part = self._part(index)
            self.moving[0] = part
            node = self.moving_nodes[0]
            if part is None:
                node.visible = False
            else:
                node.set_gaussians(**part.gaussians(self.mode, self.fade))
                node.visible = True

    def _restyle(self) -> None:
        pairs = [(self.static, self.static_node), *zip(self.moving, self.moving_nodes)]
        for part, node in pairs:
            if part is not None and node is not None:
                node.set_gaussians(**part.gaussians(self.mode, self.fade))

    def set_color_mode(self, mode: str) -> None:
        """Colour every time's splats by ``mode`` (one of `modes`)."""
        if mode not in self.modes:
            raise ValueError(f"colour mode {mode!r}: accepted {', '.join(self.modes)}")
        if mode != self.mode:
            self.mode = mode
            self._restyle()

    def set_fade(self, factor: float) -> None:
        """Draw every time's splats at ``factor`` times their opacity (1: as they are)."""
        if factor != self.fade:
            self.fade = factor
            self._restyle()

    def label_counts(self, index: int | None = None) -> np.ndarray:
        """``[L]`` Gaussians per label at time ``index`` (default: the time shown)."""
        scene = self.scenes[self.index if index is None else index]
        labels = scene.labels.cpu().numpy()
        return np.bincount(labels[labels >= 0], minlength=len(scene.label_names))[: len(scene.label_names)]

"""A `GaussianScene` as viser's splat arrays, coloured by appearance or by semantic label.

viser draws each Gaussian from its center, its 3D covariance ``R diag(s²) Rᵀ``, one RGB
(view-independent: the SH DC term; higher SH bands are not drawn) and an opacity.
"""

from __future__ import annotations

import colorsys

import numpy as np
import torch

from lyra_sim.scene import GaussianScene, quat_to_rotmat, sh_to_rgb

UNLABELED_RGB = (0.55, 0.55, 0.55)
"""Colour of Gaussians without a label (``labels == -1``) in label mode."""


def splat_arrays(scene: GaussianScene) -> dict[str, np.ndarray]:
    """The arguments of viser's ``add_gaussian_splats``, float32 numpy arrays.

    Returns:
        ``centers [N, 3]``, ``covariances [N, 3, 3]``, ``rgbs [N, 3]`` in [0, 1],
        ``opacities [N, 1]``.
    """
    s = scene.to("cpu")
    with torch.no_grad():
        rot = quat_to_rotmat(s.quats)
        cov = (rot * s.scales[:, None, :] ** 2) @ rot.transpose(1, 2)
        rgb = sh_to_rgb(s.sh[:, 0]).clamp(0, 1)
    return {
        "centers": s.means.numpy(),
        "covariances": cov.numpy(),
        "rgbs": rgb.numpy(),
        "opacities": s.opacities[:, None].numpy(),
    }


def label_palette(count: int) -> np.ndarray:
    """``[count, 3]`` distinct colours in [0, 1]: hues a golden-ratio step apart, alternating
    lightness, so neighbouring label ids never look alike."""
    hues = (np.arange(count) * 0.6180339887498949) % 1.0
    return np.array(
        [colorsys.hls_to_rgb(h, 0.45 if i % 2 else 0.6, 0.75) for i, h in enumerate(hues)], np.float32
    ).reshape(count, 3)


def label_rgbs(scene: GaussianScene) -> np.ndarray:
    """``[N, 3]`` each Gaussian's label colour (`label_palette`; `UNLABELED_RGB` for -1).

    Raises ValueError for a scene without labels.
    """
    if scene.labels is None or not scene.label_names:
        raise ValueError("the scene has no semantic labels")
    palette = np.concatenate([label_palette(len(scene.label_names)), np.array([UNLABELED_RGB], np.float32)])
    labels = scene.labels.cpu().numpy()
    return palette[np.where(labels < 0, len(scene.label_names), labels)]


def legend_html(names: tuple[str, ...] | list[str], counts: np.ndarray) -> str:
    """An HTML legend: a colour swatch, the label name and its Gaussian count per label."""
    from html import escape

    palette = (label_palette(len(names)) * 255 + 0.5).astype(int)
    rows = [
        f'<div style="display:flex;align-items:center;gap:6px;font-size:0.8em">'
        f'<span style="width:12px;height:12px;border-radius:2px;background:rgb({r},{g},{b})"></span>'
        f"{escape(name)} <span style=\"opacity:0.6\">{int(n):,}</span></div>"
        for name, (r, g, b), n in zip(names, palette, counts, strict=True)
    ]
    return '<div style="display:flex;flex-direction:column;gap:2px">' + "".join(rows) + "</div>"

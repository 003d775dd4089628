"""`GaussianScene`: the one data type for 3D Gaussian splats in lyra-sim.

Values are *activated* (see ARCHITECTURE.md): scales in meters, opacities in [0, 1],
colors as spherical-harmonics coefficients. Quaternions are ``w, x, y, z`` and may have
any non-zero norm (the renderer normalizes them, as gsplat does); keeping them as given
lets a PLY file round-trip bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Sequence

import torch
from torch import Tensor

SH_C0 = 0.28209479177387814
"""Zeroth-order SH basis constant: ``rgb = 0.5 + SH_C0 * c0``."""

MAX_SH_DEGREE = 3


def rgb_to_sh(rgb: Tensor) -> Tensor:
    """Colors in [0, 1] ``[..., 3]`` → DC SH coefficients ``[..., 3]``."""
    return (rgb - 0.5) / SH_C0


def sh_to_rgb(sh0: Tensor) -> Tensor:
    """DC SH coefficients ``[..., 3]`` → colors ``[..., 3]`` (not clamped)."""
    return sh0 * SH_C0 + 0.5


def num_sh_bases(degree: int) -> int:
    """K = (degree + 1)² coefficients per color channel."""
    return (degree + 1) ** 2


def sh_degree_from_bases(k: int) -> int:
    degree = math.isqrt(k) - 1
    if (degree + 1) ** 2 != k or not 0 <= degree <= MAX_SH_DEGREE:
        raise ValueError(
            f"sh: {k} coefficients per channel is not (degree+1)^2 for a degree in 0..{MAX_SH_DEGREE} "
            "(accepted: 1, 4, 9 or 16)"
        )
    return degree


def quat_to_rotmat(quats: Tensor) -> Tensor:
    """Quaternions ``[N, 4]`` (wxyz, any non-zero norm) → rotation matrices ``[N, 3, 3]``."""
    w, x, y, z = torch.unbind(torch.nn.functional.normalize(quats, dim=-1), dim=-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(quats.shape[:-1] + (3, 3))


def rotmat_to_quat(rotmats: Tensor) -> Tensor:
    """Rotation matrices ``[N, 3, 3]`` → unit quaternions ``[N, 4]`` (wxyz, w >= 0)."""
    m = rotmats
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # Shepperd's method: pick the largest of four candidate denominators for stability.
    cands = torch.stack(
        [
            torch.stack([1 + m00 + m11 + m22, m21 - m12, m02 - m20, m10 - m01], -1),
            torch.stack([m21 - m12, 1 + m00 - m11 - m22, m01 + m10, m02 + m20], -1),
            torch.stack([m02 - m20, m01 + m10, 1 - m00 + m11 - m22, m12 + m21], -1),
            torch.stack([m10 - m01, m02 + m20, m12 + m21, 1 - m00 - m11 + m22], -1),
        ],
        dim=-2,
    )  # [..., 4, 4]; row i is 4 * q_i * q
    diag = torch.stack([cands[..., i, i] for i in range(4)], -1)
    best = diag.argmax(-1)
    q = torch.gather(cands, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    q = torch.nn.functional.normalize(q, dim=-1)
    return torch.where(q[..., :1] < 0, -q, q)


def quat_multiply(a: Tensor, b: Tensor) -> Tensor:
    """Hamilton product ``a ⊗ b`` of wxyz quaternions ``[..., 4]``."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


@dataclass(frozen=True)
class GaussianScene:
    """A static set of 3D Gaussians with activated parameters.

    Attributes:
        means: ``[N, 3]`` centers in world meters (Z up).
        quats: ``[N, 4]`` rotations, ``w, x, y, z``, non-zero norm.
        scales: ``[N, 3]`` standard deviations along the local axes, meters, > 0.
        opacities: ``[N]`` in [0, 1].
        sh: ``[N, K, 3]`` SH coefficients, K = (degree+1)² for degree 0..3.
        labels: optional ``[N]`` int64 index into ``label_names``; -1 means unlabeled.
        label_names: names of the semantic labels (object instances or classes).

    Construction validates every field and raises ``ValueError`` naming the bad one.
    Tensors are float32 (labels int64) and all on one device.
    """

    means: Tensor
    quats: Tensor
    scales: Tensor
    opacities: Tensor
    sh: Tensor
    labels: Tensor | None = None
    label_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        self._validate()

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        self._check_structure()
        self._check_values()

    def _derived(self, **changes: Any) -> "GaussianScene":
        """A scene whose tensors are rows or device copies of this (validated) scene's.

        Only the structure (shapes, dtypes, devices) is checked again: the values are ones that
        passed `_check_values` already, and its scans over every coefficient cost about 0.1 s per
        copy of a 200k-Gaussian scene of degree 3.
        """
        new = object.__new__(type(self))
        for f in fields(self):
            object.__setattr__(new, f.name, changes.get(f.name, getattr(self, f.name)))
        new._check_structure()
        return new

    def _check_structure(self) -> None:
        if not isinstance(self.means, Tensor):
            raise ValueError(f"means: expected a torch.Tensor, got {type(self.means).__name__}")
        if self.means.ndim != 2 or self.means.shape[1] != 3:
            raise ValueError(f"means: expected shape [N, 3], got {list(self.means.shape)}")
        n = self.means.shape[0]
        expected = {
            "quats": (n, 4),
            "scales": (n, 3),
            "opacities": (n,),
        }
        for name, shape in expected.items():
            value = getattr(self, name)
            if not isinstance(value, Tensor):
                raise ValueError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
            if tuple(value.shape) != shape:
                raise ValueError(f"{name}: expected shape {list(shape)} for N={n}, got {list(value.shape)}")
        if not isinstance(self.sh, Tensor):
            raise ValueError(f"sh: expected a torch.Tensor, got {type(self.sh).__name__}")
        if self.sh.ndim != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3:
            raise ValueError(f"sh: expected shape [N, K, 3] for N={n}, got {list(self.sh.shape)}")
        sh_degree_from_bases(self.sh.shape[1])

        device = self.means.device
        for name in ("means", "quats", "scales", "opacities", "sh"):
            value = getattr(self, name)
            if value.dtype != torch.float32:
                raise ValueError(f"{name}: expected dtype float32, got {value.dtype}")
            if value.device != device:
                raise ValueError(f"{name}: on {value.device}, but means are on {device}")
        if self.labels is None:
            if self.label_names:
                raise ValueError("labels: label_names given but labels is None")
            return
        if not isinstance(self.labels, Tensor) or self.labels.shape != (n,):
            shape = list(self.labels.shape) if isinstance(self.labels, Tensor) else type(self.labels).__name__
            raise ValueError(f"labels: expected an int64 tensor of shape [{n}], got {shape}")
        if self.labels.dtype != torch.int64:
            raise ValueError(f"labels: expected dtype int64, got {self.labels.dtype}")
        if self.labels.device != device:
            raise ValueError(f"labels: on {self.labels.device}, but means are on {device}")

    def _check_values(self) -> None:
        """Scans of every value (finite, positive scales, opacities in [0, 1], labels in range)."""
        n = self.means.shape[0]
        for name in ("means", "quats", "scales", "opacities", "sh"):
            value = getattr(self, name)
            if not bool(torch.isfinite(value).all()):
                bad = int((~torch.isfinite(value)).reshape(n, -1).any(-1).sum()) if n else 0
                raise ValueError(f"{name}: {bad} Gaussian(s) have non-finite (NaN or inf) values")
        if n and bool((self.scales <= 0).any()):
            raise ValueError(
                f"scales: {int((self.scales <= 0).any(-1).sum())} Gaussian(s) have a non-positive scale "
                "(activated scales are standard deviations in meters and must be > 0)"
            )
        if n and bool(((self.opacities < 0) | (self.opacities > 1)).any()):
            raise ValueError("opacities: values outside [0, 1] (activated opacities are expected)")
        if n and bool((self.quats.norm(dim=-1) == 0).any()):
            raise ValueError("quats: some quaternions have zero norm")

        if self.labels is None:
            return
        if not all(isinstance(s, str) for s in self.label_names):
            raise ValueError("label_names: expected a tuple of strings")
        if len(set(self.label_names)) != len(self.label_names):
            twice = sorted({s for s in self.label_names if self.label_names.count(s) > 1})
            raise ValueError(f"label_names: {', '.join(map(repr, twice[:3]))} appear(s) more than once; "
                             "every label must be distinct (objects sharing a name could not be told apart)")
        if n and (int(self.labels.min()) < -1 or int(self.labels.max()) >= len(self.label_names)):
            raise ValueError(
                f"labels: values must be -1 (unlabeled) or index into label_names "
                f"(0..{len(self.label_names) - 1}), got range [{int(self.labels.min())}, {int(self.labels.max())}]"
            )

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return self.means.shape[0]

    @property
    def num_gaussians(self) -> int:
        return self.means.shape[0]

    @property
    def sh_degree(self) -> int:
        return sh_degree_from_bases(self.sh.shape[1])

    @property
    def device(self) -> torch.device:
        return self.means.device

    @property
    def rgb(self) -> Tensor:
        """View-independent base color ``[N, 3]`` from the DC term, clamped to [0, 1]."""
        return sh_to_rgb(self.sh[:, 0]).clamp(0, 1)

    @classmethod
    def from_rgb(
        cls,
        means: Tensor,
        quats: Tensor,
        scales: Tensor,
        opacities: Tensor,
        rgb: Tensor,
        labels: Tensor | None = None,
        label_names: Sequence[str] = (),
    ) -> "GaussianScene":
        """Build a degree-0 scene from colors ``rgb: [N, 3]`` in [0, 1]."""
        return cls(means, quats, scales, opacities, rgb_to_sh(rgb)[:, None, :], labels, tuple(label_names))

    def to(self, device: torch.device | str) -> "GaussianScene":
        """A copy on ``device``."""
        return self._derived(
            means=self.means.to(device),
            quats=self.quats.to(device),
            scales=self.scales.to(device),
            opacities=self.opacities.to(device),
            sh=self.sh.to(device),
            labels=None if self.labels is None else self.labels.to(device),
        )

    def select(self, index: Tensor) -> "GaussianScene":
        """The Gaussians picked by a boolean mask ``[N]`` or an index tensor ``[M]``."""
        return self._derived(
            means=self.means[index],
            quats=self.quats[index],
            scales=self.scales[index],
            opacities=self.opacities[index],
            sh=self.sh[index],
            labels=None if self.labels is None else self.labels[index],
        )

    # ------------------------------------------------------------------ geometry
    def bounds(self) -> tuple[Tensor, Tensor]:
        """Axis-aligned bounds of the centers: ``(lo [3], hi [3])``. Raises on an empty scene."""
        if len(self) == 0:
            raise ValueError("bounds: the scene has no Gaussians")
        return self.means.min(0).values, self.means.max(0).values

    def transform(self, rotation: Tensor, translation: Tensor | None = None) -> "GaussianScene":
        """Apply the rigid motion ``x ↦ R x + t``.

        Args:
            rotation: ``[3, 3]`` proper rotation, or a ``[4, 4]`` rigid transform (then
                ``translation`` must be None).
            translation: ``[3]``.

        SH coefficients of degree > 0 are not rotated: they keep their world-frame meaning,
        so view-dependent color turns with the scene only for degree 0.
        """
        rotation = torch.as_tensor(rotation, dtype=torch.float32, device=self.device)
        if rotation.shape == (4, 4):
            if translation is not None:
                raise ValueError("transform: give either a [4, 4] matrix or rotation + translation, not both")
            translation = rotation[:3, 3]
            rotation = rotation[:3, :3]
        if rotation.shape != (3, 3):
            raise ValueError(f"rotation: expected [3, 3] or [4, 4], got {list(rotation.shape)}")
        eye = torch.eye(3, device=self.device)
        if not torch.allclose(rotation @ rotation.T, eye, atol=1e-4) or float(torch.det(rotation)) < 0:
            raise ValueError("rotation: not a proper rotation matrix (orthonormal with det +1)")
        t = torch.zeros(3, device=self.device) if translation is None else torch.as_tensor(
            translation, dtype=torch.float32, device=self.device
        )
        if t.shape != (3,):
            raise ValueError(f"translation: expected shape [3], got {list(t.shape)}")
        q_r = rotmat_to_quat(rotation[None])[0]
        quats = quat_multiply(q_r.expand_as(self.quats), torch.nn.functional.normalize(self.quats, dim=-1))
        return replace(self, means=self.means @ rotation.T + t, quats=quats)

    def crop(self, lo: Sequence[float] | Tensor, hi: Sequence[float] | Tensor) -> "GaussianScene":
        """Keep the Gaussians whose centers lie in the box ``lo <= x <= hi`` (``[3]`` each)."""
        lo_t = torch.as_tensor(lo, dtype=torch.float32, device=self.device)
        hi_t = torch.as_tensor(hi, dtype=torch.float32, device=self.device)
        if lo_t.shape != (3,) or hi_t.shape != (3,):
            raise ValueError("crop: lo and hi must each have 3 values")
        if bool((lo_t > hi_t).any()):
            raise ValueError(f"crop: lo {lo_t.tolist()} exceeds hi {hi_t.tolist()} on some axis")
        inside = ((self.means >= lo_t) & (self.means <= hi_t)).all(-1)
        return self.select(inside)

    def prune(self, min_opacity: float) -> "GaussianScene":
        """Drop the Gaussians with opacity below ``min_opacity``."""
        return self.select(self.opacities >= min_opacity)


def merge(scenes: Sequence[GaussianScene]) -> GaussianScene:
    """Concatenate scenes into one.

    SH coefficients are zero-padded to the highest degree present. Label tables are
    concatenated with duplicate names merged; a scene without labels contributes -1s.
    """
    if not scenes:
        raise ValueError("merge: no scenes given")
    device = scenes[0].device
    if any(s.device != device for s in scenes):
        raise ValueError("merge: scenes are on different devices; move them with .to() first")
    k = max(s.sh.shape[1] for s in scenes)
    sh = [torch.nn.functional.pad(s.sh, (0, 0, 0, k - s.sh.shape[1])) for s in scenes]

    labels = None
    names: list[str] = []
    if any(s.labels is not None for s in scenes):
        index: dict[str, int] = {}
        parts = []
        for s in scenes:
            if s.labels is None:
                parts.append(torch.full((len(s),), -1, dtype=torch.int64, device=device))
                continue
            remap = torch.tensor(
                [index.setdefault(name, len(index)) for name in s.label_names] + [-1],
                dtype=torch.int64,
                device=device,
            )
            parts.append(remap[s.labels])  # -1 indexes the trailing -1
        labels = torch.cat(parts)
        names = list(index)
    return GaussianScene(
        means=torch.cat([s.means for s in scenes]),
        quats=torch.cat([s.quats for s in scenes]),
        scales=torch.cat([s.scales for s in scenes]),
        opacities=torch.cat([s.opacities for s in scenes]),
        sh=torch.cat(sh),
        labels=labels,
        label_names=tuple(names),
    )

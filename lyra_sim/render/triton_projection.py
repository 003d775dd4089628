"""EWA projection of *selected* Gaussians straight from the scene's tables, in one Triton kernel.

The agent cameras of the environments each draw their own level-of-detail selection of the
scene: ``ids: [B, M]`` rows of shared tables (`lyra_sim.render.lod`, padded to a budget ``M``).
gsplat's `rasterization` wants per-camera copies of those rows (``[B, M, ...]`` tensors), and
gathering them was most of a vector step (43 of 80 ms at 4096 cameras of 64 × 64 on an H200).
This kernel reads each camera's rows where they are and writes what gsplat's own projection
kernel writes (radii, means2d, depths, conics), plus the rows' colors and opacities, so the
rest of the pipeline is gsplat's tile intersection and rasterization, unchanged
(`lyra_sim.render.rasterizer.rasterize_selected`).

The math is gsplat 1.5.3's ``projection_ewa_3dgs_fused_fwd`` (pinhole, ``rasterize_mode
="classic"``): world → camera; cull centers outside ``[near, far]``; ``Σ = R S Sᵀ Rᵀ`` from the
normalized quaternion; Jacobian at the center clamped to the field of view widened by 30 %;
``eps2d`` added to the 2D covariance; cull ``det <= 0`` and opacities below 1/255;
opacity-aware radii ``ceil(min(3.33, sqrt(2 ln(255 opacity))) · sqrt(cov_ii))``; cull boxes off
the image. The PyTorch twin of the same steps is `lyra_sim.render.torch_impl`; tests compare all three.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from .torch_impl import ALPHA_THRESHOLD, FOV_CLAMP_MARGIN, MAX_EXTENT_SIGMAS

BLOCK = 256
"""Slots (camera rows) per Triton program."""


@triton.jit
def _project_kernel(
    ids_ptr, means_ptr, quats_ptr, scales_ptr, opac_ptr, colors_ptr, viewmats_ptr, ks_ptr, groups_ptr,
    radii_ptr, means2d_ptr, depths_ptr, conics_ptr, out_colors_ptr, out_opac_ptr,
    M, G, width, height, eps2d, near, far, fov_margin, alpha_threshold, max_extent,
    D: tl.constexpr, BLOCK_SIZE: tl.constexpr, HAS_GROUPS: tl.constexpr,
):
    cam = tl.program_id(1)
    slot = tl.program_id(0) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    live = slot < M
    row = cam.to(tl.int64) * M + slot
    g = tl.load(ids_ptr + row, mask=live, other=0).to(tl.int64)

    # The camera: world-to-camera rotation W, translation t, intrinsics. With groups, each row is
    # drawn through its group's matrix (the camera's viewmat times the group's pose, per camera).
    if HAS_GROUPS:
        grp = tl.load(groups_ptr + g, mask=live, other=0).to(tl.int64)
        vm = viewmats_ptr + (cam.to(tl.int64) * G + grp) * 16
        w00 = tl.load(vm + 0, mask=live, other=1.0)
        w01 = tl.load(vm + 1, mask=live, other=0.0)
        w02 = tl.load(vm + 2, mask=live, other=0.0)
        t0 = tl.load(vm + 3, mask=live, other=0.0)
        w10 = tl.load(vm + 4, mask=live, other=0.0)
        w11 = tl.load(vm + 5, mask=live, other=1.0)
        w12 = tl.load(vm + 6, mask=live, other=0.0)
        t1 = tl.load(vm + 7, mask=live, other=0.0)
        w20 = tl.load(vm + 8, mask=live, other=0.0)
        w21 = tl.load(vm + 9, mask=live, other=0.0)
        w22 = tl.load(vm + 10, mask=live, other=1.0)
        t2 = tl.load(vm + 11, mask=live, other=0.0)
    else:
        vm = viewmats_ptr + cam.to(tl.int64) * 16
        w00 = tl.load(vm + 0)
        w01 = tl.load(vm + 1)
        w02 = tl.load(vm + 2)
        t0 = tl.load(vm + 3)
        w10 = tl.load(vm + 4)
        w11 = tl.load(vm + 5)
        w12 = tl.load(vm + 6)
        t1 = tl.load(vm + 7)
        w20 = tl.load(vm + 8)
        w21 = tl.load(vm + 9)
        w22 = tl.load(vm + 10)
        t2 = tl.load(vm + 11)
    kp = ks_ptr + cam.to(tl.int64) * 9
    fx = tl.load(kp + 0)
    cx = tl.load(kp + 2)
    fy = tl.load(kp + 4)
    cy = tl.load(kp + 5)

    px = tl.load(means_ptr + g * 3 + 0, mask=live, other=0.0)
    py = tl.load(means_ptr + g * 3 + 1, mask=live, other=0.0)
    pz = tl.load(means_ptr + g * 3 + 2, mask=live, other=0.0)
    x = w00 * px + w01 * py + w02 * pz + t0
    y = w10 * px + w11 * py + w12 * pz + t1
    z = w20 * px + w21 * py + w22 * pz + t2
    opacity = tl.load(opac_ptr + g, mask=live, other=0.0)
    keep = live & (z >= near) & (z <= far) & (opacity >= alpha_threshold)
    z_safe = tl.where(keep, z, 1.0)

    # Σ = R S² Rᵀ from the normalized quaternion (w, x, y, z) and the scales.
    qw = tl.load(quats_ptr + g * 4 + 0, mask=live, other=1.0)
    qx = tl.load(quats_ptr + g * 4 + 1, mask=live, other=0.0)
    qy = tl.load(quats_ptr + g * 4 + 2, mask=live, other=0.0)
    qz = tl.load(quats_ptr + g * 4 + 3, mask=live, other=0.0)
    inv = 1.0 / tl.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
    qw = qw * inv
    qx = qx * inv
    qy = qy * inv
    qz = qz * inv
    r00 = 1.0 - 2.0 * (qy * qy + qz * qz)
    r01 = 2.0 * (qx * qy - qw * qz)
    r02 = 2.0 * (qx * qz + qw * qy)
    r10 = 2.0 * (qx * qy + qw * qz)
    r11 = 1.0 - 2.0 * (qx * qx + qz * qz)
    r12 = 2.0 * (qy * qz - qw * qx)
    r20 = 2.0 * (qx * qz - qw * qy)
    r21 = 2.0 * (qy * qz + qw * qx)
    r22 = 1.0 - 2.0 * (qx * qx + qy * qy)
    sx = tl.load(scales_ptr + g * 3 + 0, mask=live, other=0.0)
    sy = tl.load(scales_ptr + g * 3 + 1, mask=live, other=0.0)
    sz = tl.load(scales_ptr + g * 3 + 2, mask=live, other=0.0)
    # A = W R S: rows of the camera-space factor, so Σ_c = A Aᵀ.
    m00 = (w00 * r00 + w01 * r10 + w02 * r20) * sx
    m01 = (w00 * r01 + w01 * r11 + w02 * r21) * sy
    m02 = (w00 * r02 + w01 * r12 + w02 * r22) * sz
    m10 = (w10 * r00 + w11 * r10 + w12 * r20) * sx
    m11 = (w10 * r01 + w11 * r11 + w12 * r21) * sy
    m12 = (w10 * r02 + w11 * r12 + w12 * r22) * sz
    m20 = (w20 * r00 + w21 * r10 + w22 * r20) * sx
    m21 = (w20 * r01 + w21 * r11 + w22 * r21) * sy
    m22 = (w20 * r02 + w21 * r12 + w22 * r22) * sz

    # Perspective Jacobian at the center clamped to the widened field of view.
    rz = 1.0 / z_safe
    tan_fovx = 0.5 * width / fx
    tan_fovy = 0.5 * height / fy
    lim_xp = (width - cx) / fx + fov_margin * tan_fovx
    lim_xn = cx / fx + fov_margin * tan_fovx
    lim_yp = (height - cy) / fy + fov_margin * tan_fovy
    lim_yn = cy / fy + fov_margin * tan_fovy
    u = tl.minimum(tl.maximum(x * rz, -lim_xn), lim_xp)
    v = tl.minimum(tl.maximum(y * rz, -lim_yn), lim_yp)
    # J A, with J = [[fx/z, 0, -fx u/z], [0, fy/z, -fy v/z]]
    a0 = fx * rz * (m00 - u * m20)
    a1 = fx * rz * (m01 - u * m21)
    a2 = fx * rz * (m02 - u * m22)
    b0 = fy * rz * (m10 - v * m20)
    b1 = fy * rz * (m11 - v * m21)
    b2 = fy * rz * (m12 - v * m22)
    ca = a0 * a0 + a1 * a1 + a2 * a2 + eps2d
    cb = a0 * b0 + a1 * b1 + a2 * b2
    cc = b0 * b0 + b1 * b1 + b2 * b2 + eps2d
    det = ca * cc - cb * cb
    keep = keep & (det > 0)
    det_safe = tl.where(keep, det, 1.0)

    extend = tl.minimum(max_extent, tl.sqrt(2.0 * tl.log(tl.maximum(opacity, alpha_threshold) / alpha_threshold)))
    rx = tl.ceil(extend * tl.sqrt(tl.maximum(ca, 0.0)))
    ry = tl.ceil(extend * tl.sqrt(tl.maximum(cc, 0.0)))
    mx = fx * x * rz + cx
    my = fy * y * rz + cy
    keep = keep & ((rx > 0) | (ry > 0))
    keep = keep & (mx + rx > 0) & (mx - rx < width) & (my + ry > 0) & (my - ry < height)

    tl.store(radii_ptr + row * 2 + 0, tl.where(keep, rx, 0.0).to(tl.int32), mask=live)
    tl.store(radii_ptr + row * 2 + 1, tl.where(keep, ry, 0.0).to(tl.int32), mask=live)
    tl.store(means2d_ptr + row * 2 + 0, mx, mask=live)
    tl.store(means2d_ptr + row * 2 + 1, my, mask=live)
    tl.store(depths_ptr + row, z, mask=live)
    tl.store(conics_ptr + row * 3 + 0, cc / det_safe, mask=live)
    tl.store(conics_ptr + row * 3 + 1, -cb / det_safe, mask=live)
    tl.store(conics_ptr + row * 3 + 2, ca / det_safe, mask=live)
    tl.store(out_opac_ptr + row, opacity, mask=live)
    for d in tl.static_range(D):
        tl.store(out_colors_ptr + row * D + d, tl.load(colors_ptr + g * D + d, mask=live, other=0.0), mask=live)


def project_selected(
    means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, colors: Tensor, ids: Tensor,
    viewmats: Tensor, Ks: Tensor, width: int, height: int, eps2d: float, near_plane: float, far_plane: float,
    groups: Tensor | None = None, group_poses: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Project rows ``ids`` of the tables into one camera each, as gsplat's unpacked projection.

    Args:
        means: ``[R, 3]``, quats: ``[R, 4]`` (wxyz), scales: ``[R, 3]``, opacities: ``[R]``,
            colors: ``[R, D]`` (post-activation colors; SH are not evaluated here): float32,
            contiguous, on one CUDA device (or CPU under ``TRITON_INTERPRET=1``).
        ids: ``[B, M]`` integer rows of camera ``b``.
        viewmats: ``[B, 4, 4]``; Ks: ``[B, 3, 3]``.
        groups, group_poses: optional rigid groups of the rows, ``[R]`` int (0..G-1), and per camera
            each group's pose ``[B, G, 4, 4]``: camera ``b`` draws a row of group ``k`` moved by
            ``group_poses[b, k]`` (`lyra_sim.render.rasterizer.rasterize_selected`).

    Returns:
        ``radii [B, 1, M, 2]`` int32 (0: culled), ``means2d [B, 1, M, 2]``, ``depths [B, 1, M]``,
        ``conics [B, 1, M, 3]``, ``colors [B, 1, M, D]``, ``opacities [B, 1, M]``: the layout
        of gsplat's ``fully_fused_projection(packed=False)`` with one camera per batch entry.
    """
    b, m = ids.shape
    d = colors.shape[-1]
    dev = means.device
    radii = torch.empty((b, 1, m, 2), dtype=torch.int32, device=dev)
    means2d = torch.empty((b, 1, m, 2), dtype=torch.float32, device=dev)
    depths = torch.empty((b, 1, m), dtype=torch.float32, device=dev)
    conics = torch.empty((b, 1, m, 3), dtype=torch.float32, device=dev)
    out_colors = torch.empty((b, 1, m, d), dtype=torch.float32, device=dev)
    out_opac = torch.empty((b, 1, m), dtype=torch.float32, device=dev)
    has_groups = groups is not None
    if has_groups:  # each group's world-to-camera matrix, per camera: [B, G, 4, 4]
        mats = (viewmats.float()[:, None] @ group_poses.float()).contiguous()
        group_count, group_ids = mats.shape[1], groups.to(torch.int32).contiguous()
    else:
        mats, group_count, group_ids = viewmats.float().contiguous(), 1, ids  # group_ids unused
    if b and m:
        grid = (triton.cdiv(m, BLOCK), b)
        _project_kernel[grid](
            ids.contiguous(), means.contiguous(), quats.contiguous(), scales.contiguous(), opacities.contiguous(),
            colors.contiguous(), mats, Ks.float().contiguous(), group_ids,
            radii, means2d, depths, conics, out_colors, out_opac,
            m, group_count, float(width), float(height), float(eps2d), float(near_plane), float(far_plane),
            FOV_CLAMP_MARGIN, ALPHA_THRESHOLD, MAX_EXTENT_SIGMAS, D=d, BLOCK_SIZE=BLOCK, HAS_GROUPS=has_groups,
        )
    return radii, means2d, depths, conics, out_colors, out_opac

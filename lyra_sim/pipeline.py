"""Prompt → scene directory: ``scene.ply``, ``preview.png`` and ``manifest.json``.

Also the trajectories and video writer behind ``lyra-sim render``.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from .atomic import atomic_directory, atomic_path
from .cameras import TRAJECTORIES, Cameras, look_at_cameras, lyra_trajectory
from .manifest import package_versions, read_manifest, sha256_file, write_manifest
from .ply import read_ply, write_ply
from .render import render
from .scene import GaussianScene
from .worlds import procedural

Stage = Callable[[str], None]


@dataclass(frozen=True)
class ViewConfig:
    """Image size and field of view of previews and videos."""

    width: int = 640
    height: int = 480
    fov_y_deg: float = 75.0


def to_uint8(rgb: torch.Tensor) -> np.ndarray:
    """``[..., 3]`` floats in [0, 1] → uint8 array (round half up, deterministic)."""
    return (rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()


def room_view(room_lo: list[float], room_hi: list[float], blocked: list[tuple[list[float], list[float]]], view: ViewConfig) -> Cameras:
    """A camera inside the room, high in a free corner, looking across the room at its center.

    Args:
        room_lo, room_hi: the room's interior box ``[3]`` each (floor at ``room_lo[2]``).
        blocked: ``(lo, hi)`` boxes of objects; a corner whose eye point lies in one is skipped.
    """
    lo, hi = np.asarray(room_lo, float), np.asarray(room_hi, float)
    size = hi - lo
    inset = np.minimum(0.45, 0.15 * size[:2])
    eye_z = lo[2] + min(1.8, 0.7 * size[2])
    target = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2] + min(0.6, 0.3 * size[2])])
    corners = [
        (lo[0] + inset[0], lo[1] + inset[1]),
        (hi[0] - inset[0], lo[1] + inset[1]),
        (hi[0] - inset[0], hi[1] - inset[1]),
        (lo[0] + inset[0], hi[1] - inset[1]),
    ]

    def is_free(x: float, y: float) -> bool:
        return not any(
            b_lo[0] - 0.1 <= x <= b_hi[0] + 0.1 and b_lo[1] - 0.1 <= y <= b_hi[1] + 0.1 and b_hi[2] > eye_z - 0.3
            for b_lo, b_hi in blocked
        )

    x, y = next(((x, y) for x, y in corners if is_free(x, y)), corners[0])
    # Along a long, narrow room (corridor) look down its length instead of across a corner.
    if size[0] > 2.5 * size[1]:
        x, y, target[0] = lo[0] + inset[0], (lo[1] + hi[1]) / 2, hi[0]
    elif size[1] > 2.5 * size[0]:
        x, y, target[1] = (lo[0] + hi[0]) / 2, lo[1] + inset[1], hi[1]
    eye = torch.tensor([[x, y, eye_z]], dtype=torch.float32)
    return look_at_cameras(eye, torch.from_numpy(target[None].astype(np.float32)), view.width, view.height, view.fov_y_deg)


def _blocked_boxes(objects: list[dict[str, Any]]) -> list[tuple[list[float], list[float]]]:
    return [(o["bbox"][0], o["bbox"][1]) for o in objects]


def check_output_dir(out: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse an ``out`` that would be clobbered, before any slow work starts."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out}: directory exists and is not empty (use --overwrite to replace it)")
    return out


def write_scene_dir(
    out: str | os.PathLike,
    scene: GaussianScene,
    preview: Cameras,
    fields: dict[str, Any],
    *,
    overwrite: bool = False,
    stage: Stage = lambda name: None,
    images: dict[str, Image.Image] | None = None,
) -> dict[str, Any]:
    """Write ``scene.ply``, ``preview.png`` (``scene`` rendered from the one camera ``preview``)
    and ``manifest.json`` into ``out`` atomically; whichever path made the Gaussians.

    Args:
        fields: how the scene was made (prompt, seed, world model, ...); this adds what follows
            from the scene itself: Gaussian count, SH degree, bounds (merged into
            ``fields["bounds"]``), label names, the preview camera, package versions.
        images: more PNG files to write, by name (a building's ``floorplan.png``).

    Returns:
        The manifest that was written.
    """
    with atomic_directory(out, overwrite=overwrite) as tmp:
        stage(f"writing {len(scene):,} Gaussians to scene.ply")
        write_ply(tmp / "scene.ply", scene)
        stage("rendering preview.png")
        rgb = render(scene, preview.to(scene.means.device), mode="RGB").rgb[0]
        Image.fromarray(to_uint8(rgb)).save(tmp / "preview.png", optimize=False)
        for name, image in (images or {}).items():
            stage(f"writing {name}")
            image.save(tmp / name, optimize=False)
        lo, hi = scene.bounds()
        manifest = write_manifest(
            tmp,
            {
                **fields,
                "num_gaussians": len(scene),
                "sh_degree": scene.sh_degree,
                "bounds": {"gaussians": [lo.tolist(), hi.tolist()], **fields.get("bounds", {})},
                "label_names": list(scene.label_names),
                "preview_camera": {"viewmat": preview.viewmats[0].tolist(), "K": preview.Ks[0].tolist(),
                                   "width": preview.width, "height": preview.height},
                "packages": package_versions(),
            },
        )
    return manifest


def generate_scene(
    condition: str | dict[str, Any],
    seed: int,
    out: str | os.PathLike,
    *,
    overwrite: bool = False,
    view: ViewConfig = ViewConfig(),
    stage: Stage = lambda name: None,
) -> dict[str, Any]:
    """Generate a scene with the procedural world model and write its directory atomically.

    Args:
        condition: a text prompt, or a scene-spec dict (see `lyra_sim.worlds.spec`).
        seed: same condition + seed → byte-identical files.
        out: the directory to create; it must not exist or be empty unless ``overwrite``.
        stage: called with a short description as each step starts (progress display).

    Returns:
        The manifest that was written.
    """
    out = check_output_dir(out, overwrite)
    stage("imagining the scene (procedural world model)")
    world = procedural.generate(condition, seed=seed)
    images = None
    if world.plan is None:
        cams = room_view(world.room_bounds[0], world.room_bounds[1], _blocked_boxes(world.objects), view)
    else:  # a building: look into one room from inside it, and draw the floor plan
        from .worlds.house import off_room_boxes, preview_room
        from .worlds.plan_drawing import draw_floor_plan

        room = preview_room(world.plan)
        inside = [o for o in world.objects if o.get("room") == room["name"]]
        cams = room_view(room["bounds"][0], room["bounds"][1], _blocked_boxes(inside) + off_room_boxes(room), view)
        images = {"floorplan.png": draw_floor_plan(world.plan, world.objects)}
    fields = {
        "prompt": condition if isinstance(condition, str) else None,
        "seed": seed,
        "world_model": {"name": "procedural", "version": procedural.GENERATOR_VERSION},
        "scene_spec": world.spec.to_dict(),
        "understood": list(world.understood),
        "unknown": list(world.unknown),
        "bounds": {"room": [list(b) for b in world.room_bounds]},
        "objects": world.objects,
    }
    if world.plan is not None:
        fields["floor_plan"] = {**world.plan, "file": "floorplan.png", "preview_room": room["name"]}
    return write_scene_dir(out, world.gaussians, cams, fields, overwrite=overwrite, stage=stage, images=images)


def generate_scene_with_decoder(
    condition: str | dict[str, Any],
    seed: int,
    out: str | os.PathLike,
    checkpoint: str | os.PathLike = "default",
    *,
    device: str = "cpu",
    overwrite: bool = False,
    view: ViewConfig = ViewConfig(),
    stage: Stage = lambda name: None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Lyra's path: the world model imagines six trajectories, the decoder turns their latents
    into Gaussians (`lyra_sim.inference.generate_with_decoder`); the directory is written as
    `generate_scene` writes it, with the checkpoint's sha256 and config in the manifest.

    Args:
        checkpoint: ``"default"`` (the shipped decoder) or a decoder ``.safetensors`` path.
        device: where the world renders and the decoder runs (bytes are reproducible on the CPU).
        timings: if given, filled with seconds per stage (they stay out of the manifest).
    """
    from .inference import generate_with_decoder, resolve_checkpoint

    out = check_output_dir(out, overwrite)
    path = resolve_checkpoint(checkpoint)
    decoded = generate_with_decoder(condition, seed, path, device=device, stage=stage)
    info = decoded.video.info
    # The preview looks from the anchor view (where every trajectory starts, so the decoded
    # Gaussians are densest there) at the preview's own size and field of view.
    anchor = decoded.video.cameras(0)[0]
    eye = anchor.centers.cpu()
    cams = look_at_cameras(eye, eye + anchor.camtoworlds[:, :3, 2].cpu(), view.width, view.height, view.fov_y_deg)
    fields = {
        "prompt": condition if isinstance(condition, str) else None,
        "seed": seed,
        "world_model": info.get("world_model"),
        "scene_spec": info.get("scene_spec"),
        **_parsed_words(condition, info),
        "bounds": {"room": info["room_bounds"]} if "room_bounds" in info else {},
        "objects": info.get("objects", []),
        "decoder": {
            "checkpoint": str(checkpoint) if str(checkpoint) == "default" else path.name,
            "sha256": sha256_file(path),
            "config": decoded.config,
            "metadata": decoded.metadata,
            "device": torch.device(device).type,
        },
    }
    images = None
    if info.get("floor_plan") is not None:  # a building: the decoded Gaussians are its preview room's
        from .worlds.house import preview_room
        from .worlds.plan_drawing import draw_floor_plan

        plan = info["floor_plan"]
        fields["floor_plan"] = {**plan, "file": "floorplan.png", "preview_room": preview_room(plan)["name"]}
        images = {"floorplan.png": draw_floor_plan(plan, fields["objects"])}
    start = time.perf_counter()
    manifest = write_scene_dir(out, decoded.scene, cams, fields, overwrite=overwrite, stage=stage, images=images)
    if timings is not None:
        timings.update(decoded.timings, write=time.perf_counter() - start)
    return manifest


def _parsed_words(condition: Any, info: dict[str, Any]) -> dict[str, list[str]]:
    """Words of a text prompt the procedural world understood / ignored (its video info omits them)."""
    if not isinstance(condition, str) or (info.get("world_model") or {}).get("name") != "procedural":
        return {}
    from .worlds.prompt import parse_prompt

    parsed = parse_prompt(condition)
    return {"understood": list(parsed.understood), "unknown": list(parsed.unknown)}


# ---------------------------------------------------------------- videos
def _orbit_in_room(anchor: Cameras, room_lo: np.ndarray, room_hi: np.ndarray, frames: int) -> Cameras:
    """A circle around the room's center at eye height, looking outward at the walls as it turns."""
    center = (room_lo + room_hi) / 2
    eye_z = float(anchor.centers[0, 2])
    radius = 0.25 * float(min(room_hi[0] - room_lo[0], room_hi[1] - room_lo[1]))
    angles = torch.arange(frames, dtype=torch.float32) * (2 * math.pi / frames)
    eyes = torch.stack(
        [center[0] + radius * torch.cos(angles), center[1] + radius * torch.sin(angles), torch.full((frames,), eye_z)], -1
    )
    # look ahead along the circle's tangent, a little outward, slightly down
    ahead = torch.stack([-torch.sin(angles), torch.cos(angles), torch.zeros(frames)], -1)
    outward = torch.stack([torch.cos(angles), torch.sin(angles), torch.zeros(frames)], -1)
    targets = eyes + ahead + 0.6 * outward + torch.tensor([0.0, 0.0, -0.35])
    fov = math.degrees(2 * math.atan(0.5 * anchor.height / float(anchor.Ks[0, 1, 1])))
    return look_at_cameras(eyes, targets, anchor.width, anchor.height, fov)


def trajectory_cameras(manifest: dict[str, Any], kind: str, frames: int, view: ViewConfig) -> Cameras:
    """Cameras for ``lyra-sim render``: ``orbit`` or one of Lyra's six `TRAJECTORIES` from the preview view."""
    if kind != "orbit" and kind not in TRAJECTORIES:
        raise ValueError(f"unknown trajectory {kind!r}; accepted: orbit, {', '.join(TRAJECTORIES)}")
    if frames < 2:
        raise ValueError(f"frames: expected >= 2, got {frames}")
    room_lo, room_hi = (np.asarray(b, float) for b in manifest["bounds"]["room"])
    anchor = room_view(room_lo.tolist(), room_hi.tolist(), _blocked_boxes(manifest.get("objects", [])), view)
    if kind == "orbit":
        return _orbit_in_room(anchor, room_lo, room_hi, frames)
    focus = float(np.linalg.norm((room_lo + room_hi) / 2 - anchor.centers[0].numpy()))
    return lyra_trajectory(anchor, kind, frames, focus_distance=focus)


def render_video(
    scene_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    trajectory: str = "orbit",
    frames: int = 96,
    fps: int = 24,
    view: ViewConfig = ViewConfig(),
    device: str = "cpu",
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Path:
    """Render a scene directory along a trajectory into a video (``.mp4``, ``.gif`` ...), atomically."""
    import imageio.v2 as imageio  # only the video path needs ffmpeg

    scene_dir, out = Path(scene_dir), Path(out)
    manifest = read_manifest(scene_dir)
    cams = trajectory_cameras(manifest, trajectory, frames, view).to(device)
    scene: GaussianScene = read_ply(scene_dir / "scene.ply", device=device)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{out}: the directory {out.parent} does not exist")
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".gif":
            kwargs = {"duration": 1000 / fps, "loop": 0}  # pillow's GIF writer takes ms per frame
        else:
            kwargs = {"fps": fps, "codec": "libx264", "quality": 8, "macro_block_size": 2}
        with imageio.get_writer(tmp, **kwargs) as writer:
            for i in range(len(cams)):
                writer.append_data(to_uint8(render(scene, cams[i], mode="RGB").rgb[0]))
                progress(i + 1, len(cams))
    return out

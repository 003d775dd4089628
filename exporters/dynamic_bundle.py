"""Dynamic bundles: a dynamic scene (``scene4d/``) → a static bundle of its static part, plus moving parts.

The motion comes from the Gaussians alone (`lyra_sim.exporters.motion.estimate_motion`). Layout,
beside everything a static bundle has (`lyra_sim.exporters.bundle`) for the *static part* at the
first time (``scene.ply``, ``collision.obj``, ``nav.npz``, USD, MJCF, URDF, GLB):

    scene4d/                     the Gaussians over time, byte for byte as given (`lyra_sim.dynamic`)
    motion.json                  times, fps and per part: name, label, loop, period, bounds, poses
                                 (position + wxyz orientation per time), its files (`motion_track`)
    motion.npz                   the same tracks as arrays (MuJoCo: `motion_track.set_mocap`)
    parts/<name>/splats.ply      the part's Gaussians at the first time, in the part's own frame
    parts/<name>/collision.obj   its collision mesh (part frame), from its Gaussians alone
    parts/<name>/pieces/         its convex pieces (part frame): MJCF mocap geoms, USD colliders
    parts/<name>/splats.usdc     *usd: its splat layer, under a time-sampled Xform in scene.usda

``scene.usda`` animates the parts (`lyra_sim.exporters.usd_motion`); ``scene.xml`` has them as
mocap bodies (`lyra_sim.exporters.mjcf`); ``scene.urdf`` stays static (URDF has no motion). A
bundle is complete when its manifest verifies and `verify_dynamic` finds nothing wrong
(``motion.json``'s times are those of ``scene4d/index.json``, every part's files are there).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lyra_sim.atomic import atomic_directory, atomic_path, check_target_dir
from lyra_sim.dynamic import INDEX, read_index, read_scene4d
from lyra_sim.manifest import MANIFEST, package_versions, read_manifest, sha256_file, verify, write_manifest
from lyra_sim.ply import write_ply
from lyra_sim.scene import GaussianScene

from .bundle import DEFAULT_FORMATS, EXPORT_PACKAGES, PICTURES, ExportConfig, ExportContext, Stage, parse_formats, write_assets
from .collision import CollisionMesh, extract_collision_mesh
from .mesh_tools import safe_name
from .meshes import write_mesh
from .motion import MotionConfig, MotionEstimate, estimate_motion
from .motion_track import (
    MOTION_FILE,
    MOTION_FORMAT,
    MOTION_NPZ,
    MOTION_VERSION,
    MotionTrack,
    check_times,
    motion_arrays,
    read_motion,
    read_motion_npz,
    tracks_to_poses,
)
from .nav_grid import save_npz
from .pieces import ConvexPiece, convex_hull, surface_pieces

SCENE4D = "scene4d"
MOVIES = ("preview.mp4",)
"""Videos of a dynamic scene directory that its bundle keeps."""
_FROM_SOURCE = ("prompt", "seed", "world_model", "decoder", "scene_spec", "understood", "unknown", "objects",
                "preview_camera")
"""Manifest fields a bundle takes from its scene directory (not the world's ``motions`` record: its poses are
the world's ground truth, and a bundle's motion is what its Gaussians show)."""


@dataclass(frozen=True)
class PartAssets:
    """One moving part as the bundle holds it (what the USD and MJCF writers read from `ExportContext.moving`).

    Attributes:
        name, label: the part's name (unique) and semantic label (or None).
        gaussians: its Gaussians, part frame; track: its motion (`MotionTrack`).
        collision: its collision mesh, part frame; collision_method: ``tsdf`` or ``hull`` (too few
            Gaussians to fuse: the convex hull of their centers).
        pieces: its convex pieces, part frame; piece_files: their files (bundle-relative).
        method: how its pose was found (``kabsch`` or ``icp``); residual: ``[T]`` RMS meters.
    """

    name: str
    label: str | None
    gaussians: GaussianScene
    track: MotionTrack
    collision: CollisionMesh
    collision_method: str
    pieces: tuple[ConvexPiece, ...]
    piece_files: tuple[str, ...]
    method: str
    residual: np.ndarray

    @property
    def folder(self) -> str:
        return f"parts/{safe_name(self.name)}"


def scene4d_of(src: str | os.PathLike) -> Path | None:
    """The ``scene4d/`` directory of ``src`` (a dynamic scene directory, or a ``scene4d/`` itself), or None."""
    src = Path(src)
    if (src / SCENE4D / INDEX).is_file():
        return src / SCENE4D
    if (src / INDEX).is_file():
        return src
    return None


def scene4d_digest(scene4d: str | os.PathLike) -> str:
    """sha256 over ``index.json`` and the digests of the files it lists: one key for the whole ``scene4d/``."""
    import hashlib

    scene4d = Path(scene4d)
    index = read_index(scene4d)
    digest = hashlib.sha256(sha256_file(scene4d / INDEX).encode())
    for name in index["files"]:
        digest.update(sha256_file(scene4d / name).encode())
    return digest.hexdigest()


def _part_collision(part, config: ExportConfig) -> tuple[CollisionMesh, str]:
    """The part's collision mesh from its Gaussians; the hull of their centers when too few to fuse.

    The export's collision settings, with the sizes that default from the scene's extent (voxel,
    views, face budget) sized to the part instead: a 30 cm cart gets 1 cm voxels, not the room's.
    """
    settings = replace(config.collision, voxel_size=None, num_viewpoints=None, face_budget=None, min_component_size=None)
    try:
        return extract_collision_mesh(part.gaussians, settings), "tsdf"
    except ValueError:
        hull = convex_hull(part.gaussians.means.double().numpy())
        if hull is None:
            raise ValueError(f"part {part.name}: its {len(part.gaussians)} Gaussians span no volume; "
                             "no collision mesh can be made") from None
        return CollisionMesh(hull.vertices, hull.faces, np.zeros((0, 3)), False, {"faces": len(hull.faces)}), "hull"


def part_assets(ctx: ExportContext, estimate: MotionEstimate) -> tuple[PartAssets, ...]:
    """Collision meshes and convex pieces of every part, written under ``parts/`` of ``ctx.out``."""
    out = []
    for part in estimate.parts:
        ctx.stage(f"collision mesh of moving part {part.name} ({len(part.gaussians):,} Gaussians)")
        mesh, method = ctx.timed("parts", lambda: _part_collision(part, ctx.config))
        try:
            pieces = surface_pieces(mesh.vertices, mesh.faces, ctx.config.pieces)
        except ValueError:
            pieces = []
        if not pieces:
            pieces = [convex_hull(mesh.vertices)]
        folder = ctx.out / "parts" / safe_name(part.name)
        (folder / "pieces").mkdir(parents=True)  # new: no scratch to sweep per file
        write_ply(folder / "splats.ply", part.gaussians)
        write_mesh(folder / "collision.obj", mesh.vertices, mesh.faces)
        files = []
        for i, piece in enumerate(pieces):
            name = f"parts/{safe_name(part.name)}/pieces/piece_{i:04d}.stl"
            write_mesh(ctx.out / name, piece.vertices, piece.faces, sweep=False)
            files.append(name)
        track = part.track(estimate.times)
        # The numbers motion.json holds (12 decimals), so that motion.npz, USD and MJCF hold the same ones.
        track = MotionTrack(track.name, track.times, np.round(track.positions, 12), np.round(track.orientations, 12), track.loop)
        out.append(PartAssets(part.name, part.label, part.gaussians, track, mesh, method, tuple(pieces), tuple(files),
                              part.method, part.residual))
    return tuple(out)


def _round(a: np.ndarray) -> list:
    return np.round(np.asarray(a, dtype=np.float64), 12).tolist()


def motion_document(estimate: MotionEstimate, parts: Sequence[PartAssets]) -> dict[str, Any]:
    """The content of ``motion.json`` (see the module docstring)."""
    entries = []
    for p in parts:
        v = p.collision.vertices
        lo, hi = p.gaussians.means.double().numpy().min(0), p.gaussians.means.double().numpy().max(0)
        _, pos, quat = p.track.cycle()
        world = np.einsum("tij,vj->tvi", tracks_to_poses(pos, quat)[:, :3, :3], v) + pos[:, None]
        entries.append({
            "name": p.name,
            "label": p.label,
            "times": list(estimate.times),
            "position": _round(p.track.positions),
            "orientation": _round(p.track.orientations),
            "loop": p.track.loop,
            "period": round(p.track.period, 12),
            "frame": "the part's own: origin at its Gaussians' centroid at times[0], axes of the world; "
                     "pose x -> R(orientation) x + position",
            "bounds": {"gaussians": [_round(lo), _round(hi)], "collision": [_round(v.min(0)), _round(v.max(0))],
                       "world": [_round(world.reshape(-1, 3).min(0)), _round(world.reshape(-1, 3).max(0))]},
            "num_gaussians": len(p.gaussians),
            "pose_method": p.method,
            "residual_m": round(float(np.max(p.residual)), 9),
            "files": {"splats": f"{p.folder}/splats.ply", "collision": f"{p.folder}/collision.obj",
                      "pieces": list(p.piece_files)},
            "collision_method": p.collision_method,
        })
    return {
        "format": MOTION_FORMAT,
        "version": MOTION_VERSION,
        "times": list(estimate.times),
        "fps": estimate.fps,
        "scene4d": SCENE4D,
        "segmentation": estimate.segmentation,
        "correspondence": estimate.correspondence,
        "interpolation": "position linear, orientation slerp between samples; loop 'wrap' goes on from the last "
                         "sample to the first over one frame interval, 'pingpong' runs back to the first",
        "parts": entries,
    }


def _load(src: Path) -> tuple[Path, dict[str, Any], list[Path]]:
    scene4d = scene4d_of(src)
    if scene4d is None:
        raise ValueError(f"{src}: not a dynamic scene (expected a directory with scene4d/index.json, "
                         "from `lyra-sim generate --dynamic`, or a scene4d directory)")
    base = scene4d.parent if scene4d != src else None
    manifest: dict[str, Any] = {}
    pictures: list[Path] = []
    if base is not None:
        if (base / MANIFEST).is_file():
            problems = verify(base)
            if problems:
                raise ValueError(f"{base}: the scene directory does not verify against its manifest: {problems[0]}")
            manifest = read_manifest(base)
        pictures = [base / n for n in (*PICTURES, *MOVIES) if (base / n).is_file()]
    return scene4d, manifest, pictures


def export_dynamic_bundle(
    src: str | os.PathLike,
    out: str | os.PathLike,
    formats: Sequence[str] = DEFAULT_FORMATS,
    config: ExportConfig = ExportConfig(),
    motion: MotionConfig = MotionConfig(),
    *,
    overwrite: bool = False,
    stage: Stage = lambda name: None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Build the dynamic bundle of ``src`` (a dynamic scene directory or a ``scene4d/``) at ``out``.

    Returns the manifest written. Raises ValueError for a source that is not dynamic, an alignment
    request (dynamic scenes are taken as Z-up meters), or a scene in which nothing moves.
    """
    src, out = Path(src), Path(out)
    formats = parse_formats(formats)
    if config.aligns:
        raise ValueError("up= / scale= align imported static splat files; a dynamic scene is taken as Z-up meters")
    check_target_dir(out, overwrite)
    scene4d, source_manifest, pictures = _load(src)
    stage(f"reading {scene4d}")
    dynamic = read_scene4d(scene4d)
    stage(f"finding what moves in {len(dynamic)} times")
    estimate = estimate_motion(dynamic, motion)
    if not estimate.parts:
        raise ValueError(f"{src}: nothing moves more than {motion.move_tolerance} m over its {len(dynamic)} times; "
                         "export its first time as a static scene instead")
    info = {k: source_manifest[k] for k in _FROM_SOURCE if source_manifest.get(k) is not None}
    info.update({"source": "dynamic scene directory" if scene4d != src else "scene4d directory",
                 "packages": package_versions(EXPORT_PACKAGES)})
    with atomic_directory(out, overwrite=overwrite) as tmp:
        shutil.copytree(scene4d, tmp / SCENE4D)
        for picture in pictures:
            shutil.copyfile(picture, tmp / picture.name)
        write_ply(tmp / "scene.ply", estimate.static)
        ctx = ExportContext(estimate.static, tmp, config, info, stage, formats)
        ctx.moving = part_assets(ctx, estimate)
        document = motion_document(estimate, ctx.moving)
        with atomic_path(tmp / MOTION_FILE) as file:
            file.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
        save_npz(tmp / MOTION_NPZ, motion_arrays([p.track for p in ctx.moving]))
        data = write_assets(ctx, formats, source_manifest)
        data.update({
            "source_sha256": scene4d_digest(scene4d),
            "source_format": "scene4d",
            "frame": "the source's own, taken as Z-up meters; scene.ply and collision.obj hold the static part at "
                     "the first time, parts/ each moving part in its own frame (motion.json)",
            "dynamic": {
                "times": list(estimate.times), "fps": estimate.fps, "motion": MOTION_FILE, "scene4d": SCENE4D,
                "parts": [p.name for p in ctx.moving], "segmentation": estimate.segmentation,
                "correspondence": estimate.correspondence, "config": asdict(motion),
            },
        })
        stage("writing manifest.json")
        manifest = write_manifest(tmp, data)
    if timings is not None:
        timings.update(ctx.timings)
    return manifest


def verify_dynamic(directory: str | os.PathLike) -> list[str]:
    """Problems of a dynamic bundle beyond its manifest's digests (`lyra_sim.manifest.verify` checks those):
    ``scene4d/`` reads, ``motion.json`` is valid and has ``scene4d/``'s times, every part's files are there,
    ``motion.npz`` holds the same tracks. Empty when all is well."""
    directory = Path(directory)
    problems: list[str] = []
    try:
        index = read_index(directory / SCENE4D)
        motion = read_motion(directory / MOTION_FILE)
        check_times(motion, index["times"])
    except (ValueError, FileNotFoundError) as exc:
        return [str(exc)]
    for part in motion.parts:
        files = part.get("files") or {}
        listed = [files.get("splats"), files.get("collision"), *(files.get("pieces") or [])]
        missing = [f for f in listed if not isinstance(f, str) or not (directory / f).is_file()]
        if missing or not files.get("pieces"):
            problems.append(f"{MOTION_FILE}: part {part['name']}: files missing: {missing[:3] or 'no pieces listed'}")
    try:
        arrays = read_motion_npz(directory / MOTION_NPZ)
    except (ValueError, FileNotFoundError, OSError) as exc:
        return problems + [f"{MOTION_NPZ}: {exc}"]
    if [t.name for t in arrays] != [t.name for t in motion.tracks] or any(
            a.loop != b.loop or not np.array_equal(a.times, b.times) or np.abs(a.positions - b.positions).max() > 1e-9
            or np.abs(a.orientations - b.orientations).max() > 1e-9 for a, b in zip(arrays, motion.tracks)):
        problems.append(f"{MOTION_NPZ}: its tracks differ from {MOTION_FILE}'s")
    return problems


def verify_bundle(directory: str | os.PathLike) -> list[str]:
    """`lyra_sim.manifest.verify`, and `verify_dynamic` for a dynamic bundle: every problem found."""
    problems = verify(directory)
    if problems:
        return problems
    manifest = read_manifest(directory)
    return verify_dynamic(directory) if manifest.get("dynamic") else []


def is_dynamic_bundle(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` holds a bundle whose manifest records moving parts."""
    try:
        manifest = read_manifest(directory)
    except (FileNotFoundError, ValueError):
        return False
    return manifest.get("kind") == "bundle" and bool(manifest.get("dynamic"))


__all__ = ["MOVIES", "SCENE4D", "PartAssets", "export_dynamic_bundle", "is_dynamic_bundle", "motion_document",
           "part_assets", "scene4d_digest", "scene4d_of", "verify_bundle", "verify_dynamic"]

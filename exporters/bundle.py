"""Asset bundles: a scene directory or any 3DGS ``.ply`` → a verified directory of sim assets.

Layout (see ARCHITECTURE.md; * only with the matching format):

    scene.ply              the Gaussians, byte for byte as given
    preview.png            copied from a generated scene directory, if present
    floorplan.png          likewise, for a building (its labelled floor plan)
    collision.obj          static collider mesh extracted from the Gaussians
    nav.npz                walkable-floor grid (`lyra_sim.exporters.nav`)
    scene.usda, splats.usdc *usd        scene.usdz *usdz
    scene.xml  *mjcf       scene.urdf *urdf
    collision_static/      *mjcf/urdf: convex pieces of the static scene
    collision_parts/       CoACD parts per object, when convex decomposition is requested
    collision.glb, visual.glb *glb      visual.obj *obj (vertex-colored visual mesh)
    manifest.json          how it was made + the sha256 of every file

Formats are a registry (`FORMATS`: name → writer), so adding one is adding an entry. The
bundle is built in a temporary directory beside ``out`` and renamed into place
(`lyra_sim.atomic.atomic_directory`): it appears complete, or not at all, even if the process
is killed. Same inputs and config → same bytes (no timings or dates in any file).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from lyra_sim.atomic import atomic_directory
from lyra_sim.manifest import MANIFEST, package_versions, read_manifest, sha256_file, verify, write_manifest
from lyra_sim.ply import read_ply
from lyra_sim.scene import GaussianScene

from .collision import CollisionConfig, CollisionMesh, extract_collision_mesh
from .convex import ConvexConfig, decompose_objects
from .meshes import face_labels, vertex_colors, write_mesh
from .mjcf import SceneGeometry, write_mjcf
from .nav import NavConfig, NavGrid, nav_grid, write_nav
from .pieces import ConvexPiece, PieceConfig, surface_pieces
from .urdf import write_urdf

Stage = Callable[[str], None]

EXPORT_PACKAGES = (
    "lyra-sim", "torch", "numpy", "plyfile", "trimesh", "scipy", "open3d", "pymeshlab", "usd-core", "coacd",
)
"""Packages whose versions are recorded in the manifest (and the USD layer)."""


@dataclass(frozen=True)
class ExportConfig:
    """Settings of `export_bundle`.

    Attributes:
        collision: collision mesh extraction.
        pieces: convex pieces of the static scene (MJCF / URDF).
        convex: CoACD decomposition of objects into ``collision_parts/``; None skips it (slow).
        nav: the walkable-floor grid.
        spawn_radius: agent radius for the manifest's spawn region, meters.
    """

    collision: CollisionConfig = field(default_factory=CollisionConfig)
    pieces: PieceConfig = field(default_factory=PieceConfig)
    convex: ConvexConfig | None = None
    nav: NavConfig = field(default_factory=NavConfig)
    spawn_radius: float = 0.25


class ExportContext:
    """The scene being exported and everything derived from it, each computed once on first use.

    Writers read what they need (``collision``, ``pieces`` ...) and record the files they write
    with `add`.
    """

    def __init__(self, scene: GaussianScene, out: Path, config: ExportConfig, info: dict[str, Any], stage: Stage):
        self.scene = scene
        self.out = out
        self.config = config
        self.info = info
        self.stage = stage
        self.timings: dict[str, float] = {}

    def timed(self, name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start

    @cached_property
    def collision(self) -> CollisionMesh:
        mesh = extract_collision_mesh(self.scene, self.config.collision, self.stage)
        for key, seconds in mesh.stats["seconds"].items():
            self.timings[f"collision.{key}"] = seconds
        return mesh

    @cached_property
    def face_labels(self) -> np.ndarray | None:
        return face_labels(self.scene, self.collision.vertices, self.collision.faces)

    @cached_property
    def parts(self) -> dict[str, list[ConvexPiece]]:
        """CoACD parts per object (empty without a convex config)."""
        if self.config.convex is None:
            return {}
        self.stage("decomposing objects into convex parts (CoACD)")
        return self.timed(
            "convex",
            lambda: decompose_objects(
                self.collision.vertices, self.collision.faces, self.face_labels, self.scene.label_names, self.config.convex
            ),
        )

    @cached_property
    def part_files(self) -> dict[str, list[str]]:
        """``collision_parts/<label>_NNN.obj`` per object, written on first use."""
        files: dict[str, list[str]] = {}
        if self.parts:
            (self.out / "collision_parts").mkdir()
        for label, parts in self.parts.items():
            files[label] = []
            for j, part in enumerate(parts):
                name = f"collision_parts/{_safe(label)}_{j:03d}.obj"
                write_mesh(self.out / name, part.vertices, part.faces)
                files[label].append(name)
        return files

    @cached_property
    def static_geometry(self) -> SceneGeometry:
        """Convex pieces of everything not covered by CoACD parts, written to ``collision_static/``."""
        v, f = self.collision.vertices, self.collision.faces
        if self.parts and self.face_labels is not None:
            names = list(self.scene.label_names)
            decomposed = np.isin(self.face_labels, [names.index(label) for label in self.parts])
            f = f[~decomposed]
        self.stage("cutting the static collision mesh into convex pieces")
        pieces = self.timed("pieces", lambda: surface_pieces(v, f, self.config.pieces)) if len(f) else []
        (self.out / "collision_static").mkdir()
        files = []
        for i, piece in enumerate(pieces):
            name = f"collision_static/piece_{i:04d}.stl"
            write_mesh(self.out / name, piece.vertices, piece.faces)
            files.append(name)
        return SceneGeometry(files, self.part_files, "collision.obj")

    @cached_property
    def colors(self) -> np.ndarray:
        return vertex_colors(self.scene, self.collision.vertices)

    @cached_property
    def nav(self) -> NavGrid:
        self.stage("computing the walkable-floor grid (nav.npz)")
        return self.timed("nav", lambda: nav_grid(self.collision.vertices, self.collision.faces, self.config.nav))


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in label)


# ---------------------------------------------------------------- writers
def _write_usd(ctx: ExportContext, usda: bool, usdz: bool) -> None:
    from .usd import ColliderMesh, write_usd_bundle

    parts = [ColliderMesh(p.vertices, p.faces) for label in sorted(ctx.parts) for p in ctx.parts[label]]
    ctx.stage("writing USD (splats + physics colliders)")
    ctx.timed(
        "usd",
        lambda: write_usd_bundle(
            ctx.out,
            ctx.scene,
            ColliderMesh(ctx.collision.vertices, ctx.collision.faces),
            usda=usda,
            usdz=usdz,
            parts=parts,
            face_labels=ctx.face_labels,
            label_names=ctx.scene.label_names,
            custom_data={k: ctx.info[k] for k in ("prompt", "seed", "world_model", "source", "packages") if k in ctx.info},
        ),
    )


def write_usd_format(ctx: ExportContext) -> None:
    """``scene.usda`` + ``splats.usdc`` (and ``scene.usdz`` if that format is also requested)."""
    _write_usd(ctx, usda=True, usdz=False)


def write_usdz_format(ctx: ExportContext) -> None:
    """``scene.usdz``: packed from ``scene.usda`` when present, else from a scratch stage."""
    from .usd import write_usdz

    if (ctx.out / "scene.usda").is_file():
        ctx.stage("packing scene.usdz")
        ctx.timed("usd", lambda: write_usdz(ctx.out / "scene.usda", ctx.out / "scene.usdz"))
    else:
        _write_usd(ctx, usda=False, usdz=True)


def write_mjcf_format(ctx: ExportContext) -> None:
    """``scene.xml`` (MuJoCo) over ``collision_static/`` and ``collision_parts/``."""
    geometry = ctx.static_geometry
    ctx.stage("writing scene.xml (MJCF)")
    ctx.timed("mjcf", lambda: write_mjcf(ctx.out / "scene.xml", geometry))


def write_urdf_format(ctx: ExportContext) -> None:
    """``scene.urdf`` (PyBullet) over the same mesh files as the MJCF."""
    geometry = ctx.static_geometry
    ctx.stage("writing scene.urdf")
    ctx.timed("urdf", lambda: write_urdf(ctx.out / "scene.urdf", geometry))


def write_glb_format(ctx: ExportContext) -> None:
    """``collision.glb`` and the vertex-colored ``visual.glb``."""
    mesh, colors = ctx.collision, ctx.colors
    ctx.stage("writing collision.glb and visual.glb")
    ctx.timed("meshes", lambda: (
        write_mesh(ctx.out / "collision.glb", mesh.vertices, mesh.faces),
        write_mesh(ctx.out / "visual.glb", mesh.vertices, mesh.faces, colors),
    ))


def write_obj_format(ctx: ExportContext) -> None:
    """``visual.obj``: the collision mesh with vertex colors (``v x y z r g b``)."""
    mesh, colors = ctx.collision, ctx.colors
    ctx.stage("writing visual.obj")
    ctx.timed("meshes", lambda: write_mesh(ctx.out / "visual.obj", mesh.vertices, mesh.faces, colors))


FORMATS: Mapping[str, Callable[[ExportContext], None]] = MappingProxyType(
    {
        "usd": write_usd_format,
        "usdz": write_usdz_format,
        "mjcf": write_mjcf_format,
        "urdf": write_urdf_format,
        "glb": write_glb_format,
        "obj": write_obj_format,
    }
)
"""Format name → writer. Writers run in this order (usdz after usd, so it can reuse the stage)."""

DEFAULT_FORMATS = ("usd", "usdz", "mjcf", "urdf", "glb")


def parse_formats(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"usd,mjcf"`` / ``"all"`` / a sequence → format names in registry order (validated)."""
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    if names == ["all"]:
        return tuple(FORMATS)
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        what = f"unknown format(s) {', '.join(map(repr, unknown))}" if unknown else "no formats given"
        raise ValueError(f"{what}; accepted: all, {', '.join(FORMATS)}")
    return tuple(n for n in FORMATS if n in names)


# ---------------------------------------------------------------- bundle
def _load_source(src: Path) -> tuple[GaussianScene, dict[str, Any], Path, list[Path]]:
    """``(scene, source manifest or {}, scene.ply path, the `PICTURES` it has)``."""
    if src.is_dir():
        problems = verify(src) if (src / MANIFEST).is_file() else []
        if not (src / "scene.ply").is_file():
            raise FileNotFoundError(f"{src}: no scene.ply (expected a scene directory from `lyra-sim generate`)")
        if problems:
            raise ValueError(f"{src}: the scene directory does not verify against its manifest: {problems[0]}")
        manifest = read_manifest(src) if (src / MANIFEST).is_file() else {}
        pictures = [src / name for name in PICTURES if (src / name).is_file()]
        return read_ply(src / "scene.ply"), manifest, src / "scene.ply", pictures
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such file or directory")
    if src.suffix.lower() != ".ply":
        raise ValueError(f"{src}: expected a scene directory or a 3DGS .ply file")
    return read_ply(src), {}, src, []


PICTURES = ("preview.png", "floorplan.png")
"""Images of a scene directory that its bundle keeps."""
_FROM_SOURCE = ("prompt", "seed", "world_model", "decoder", "scene_spec", "understood", "unknown", "objects", "preview_camera",
                "floor_plan")


def export_bundle(
    src: str | os.PathLike,
    out: str | os.PathLike,
    formats: Sequence[str] = DEFAULT_FORMATS,
    config: ExportConfig = ExportConfig(),
    *,
    overwrite: bool = False,
    stage: Stage = lambda name: None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Build the asset bundle of ``src`` at ``out`` (see the module docstring).

    Args:
        src: a scene directory (``scene.ply`` [+ ``manifest.json``, ``preview.png``]) or a
            3DGS ``.ply`` file.
        out: the bundle directory; must not exist or be empty unless ``overwrite`` (or it is
            ``src`` itself, which is then upgraded in place).
        formats: names from `FORMATS`.
        stage: called with a short description as each step starts.
        timings: if given, filled with seconds per step (they stay out of the bundle).

    Returns:
        The manifest that was written.
    """
    src, out = Path(src), Path(out)
    formats = parse_formats(formats)
    in_place = src.is_dir() and out.exists() and out.resolve() == src.resolve()
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (overwrite or in_place):
        raise FileExistsError(f"{out}: directory exists and is not empty (use --overwrite to replace it)")
    stage(f"reading {src}")
    scene, source_manifest, ply_path, pictures = _load_source(src)
    if len(scene) == 0:
        raise ValueError(f"{src}: the scene has no Gaussians")

    packages = package_versions(EXPORT_PACKAGES)
    info = {k: source_manifest[k] for k in _FROM_SOURCE if source_manifest.get(k) is not None}
    info.update({"source": ply_path.name if not src.is_dir() else "scene directory", "packages": packages})
    with atomic_directory(out, overwrite=overwrite or in_place) as tmp:
        ctx = ExportContext(scene, tmp, config, info, stage)
        shutil.copyfile(ply_path, tmp / "scene.ply")
        for picture in pictures:
            shutil.copyfile(picture, tmp / picture.name)
        mesh = ctx.collision
        write_mesh(tmp / "collision.obj", mesh.vertices, mesh.faces)
        part_files = ctx.part_files  # before the formats: they reference the parts
        for name in formats:
            FORMATS[name](ctx)
        write_nav(tmp / "nav.npz", ctx.nav)
        lo, hi = scene.bounds()
        bounds = {"gaussians": [lo.tolist(), hi.tolist()], "collision": [mesh.vertices.min(0).tolist(), mesh.vertices.max(0).tolist()]}
        if "bounds" in source_manifest and "room" in source_manifest["bounds"]:
            bounds["room"] = source_manifest["bounds"]["room"]
        stats = {k: v for k, v in mesh.stats.items() if k != "seconds"}
        stats["viewpoints"] = np.round(mesh.viewpoints, 6).tolist()
        manifest_data = {
            **info,
            "kind": "bundle",
            "formats": list(formats),
            "num_gaussians": len(scene),
            "sh_degree": scene.sh_degree,
            "label_names": list(scene.label_names),
            "bounds": bounds,
            "collision": stats,
            "nav": ctx.nav.summary(config.spawn_radius),
            "source_sha256": sha256_file(ply_path),
        }
        if config.convex is not None:
            manifest_data["convex"] = {
                "config": asdict(config.convex),
                "parts": {label: len(files) for label, files in part_files.items()},
            }
        stage("writing manifest.json")
        manifest = write_manifest(tmp, manifest_data)
    if timings is not None:
        timings.update(ctx.timings)
    return manifest


def generate_bundle(
    condition: str | dict,
    seed: int,
    out: str | os.PathLike,
    formats: Sequence[str] = DEFAULT_FORMATS,
    config: ExportConfig = ExportConfig(),
    *,
    overwrite: bool = False,
    view=None,
    stage: Stage = lambda name: None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Generate a scene (procedural world model) and export its bundle to ``out`` in one go.

    The scene directory is generated in a scratch directory beside ``out`` and exported from
    there; only the finished bundle ever appears at ``out``.
    """
    from lyra_sim.pipeline import ViewConfig, generate_scene

    out = Path(out)
    formats = parse_formats(formats)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out}: directory exists and is not empty (use --overwrite to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".gen", dir=out.parent))
    try:
        start = time.perf_counter()
        generate_scene(condition, seed, scratch / "scene", view=view or ViewConfig(), stage=stage)
        generation = time.perf_counter() - start
        manifest = export_bundle(scratch / "scene", out, formats, config, overwrite=overwrite, stage=stage, timings=timings)
        if timings is not None:
            timings["generation"] = generation
        return manifest
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

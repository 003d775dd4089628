"""Asset bundles: a scene directory or any 3DGS ``.ply`` → a verified directory of sim assets.

Layout (see ARCHITECTURE.md; * only with the matching format):

    scene.ply              the Gaussians: byte for byte as given for an INRIA PLY taken as is;
                           rewritten in the bundle's frame (Z-up meters) when another splat
                           format is imported or an alignment (``up`` / ``scale``) is applied
    preview.png            copied from a generated scene directory, if present
    floorplan.png          likewise, for a building (its labelled floor plan)
    collision.obj          static collider mesh extracted from the Gaussians
    nav.npz                walkable-floor grid (`lyra_sim.exporters.nav_grid`)
    scene.usda, splats.usdc *usd        scene.usdz *usdz
    scene.xml  *mjcf       scene.urdf *urdf
    collision_static/      *mjcf/urdf: convex pieces of the static scene (the floor is a box in the XML)
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
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from lyra_sim.atomic import atomic_directory, check_target_dir
from lyra_sim.exchange import detect_format, read_splats
from lyra_sim.manifest import MANIFEST, package_versions, read_manifest, sha256_file, verify, write_manifest
from lyra_sim.ply import read_ply, write_ply
from lyra_sim.scene import GaussianScene

from .alignment import UP_CHOICES, Alignment, estimate_alignment, transform_scene
from .collision import CollisionConfig, CollisionMesh, extract_collision_mesh
from .convex import ConvexConfig, decompose_objects
from .floaters import FloaterConfig, find_floaters
from .mesh_tools import safe_names
from .meshes import face_labels, vertex_colors, write_mesh
from .mjcf import MocapBody, SceneGeometry, write_mjcf
from .nav_grid import NavConfig, NavGrid, nav_grid, write_nav
from .pieces import ConvexPiece, PieceConfig, static_colliders
from .urdf import write_urdf
from .usd import load_usd

Stage = Callable[[str], None]

EXPORT_PACKAGES = (
    "lyra-sim", "torch", "numpy", "plyfile", "trimesh", "scipy", "open3d", "pymeshlab", "usd-core", "coacd", "numba",
)
"""Packages whose versions are recorded in the manifest (and the USD layer); numba draws the depth
views when installed (`lyra_sim.render.fastest_backend`)."""


@dataclass(frozen=True)
class ExportConfig:
    """Settings of `export_bundle`.

    Attributes:
        collision: collision mesh extraction.
        pieces: convex pieces of the static scene (MJCF / URDF).
        convex: CoACD decomposition of objects into ``collision_parts/``; None skips it (slow).
        nav: the walkable-floor grid.
        spawn_radius: agent radius for the manifest's spawn region, meters.
        up: the source axis that points up, or ``"auto"`` (`lyra_sim.exporters.alignment`);
            ``"+z"`` with ``scale`` 1 takes the scene as it is (Z-up meters).
        scale: meters per source unit, or ``"auto"``.
        floaters: which splats to leave out of collision extraction (never out of scene.ply);
            None keeps them all.
    """

    collision: CollisionConfig = field(default_factory=CollisionConfig)
    pieces: PieceConfig = field(default_factory=PieceConfig)
    convex: ConvexConfig | None = None
    nav: NavConfig = field(default_factory=NavConfig)
    spawn_radius: float = 0.25
    up: str = "+z"
    scale: float | str = 1.0
    floaters: FloaterConfig | None = field(default_factory=FloaterConfig)

    def __post_init__(self) -> None:
        if self.up not in UP_CHOICES:
            raise ValueError(f"up: expected one of {', '.join(UP_CHOICES)}, got {self.up!r}")
        if self.scale != "auto" and not (isinstance(self.scale, (int, float)) and not isinstance(self.scale, bool)
                                         and 0 < self.scale < float("inf")):
            raise ValueError(f"scale: expected a positive number (meters per unit) or 'auto', got {self.scale!r}")

    @property
    def aligns(self) -> bool:
        """Whether the scene is moved into the bundle's frame (anything but +z at scale 1)."""
        return self.up != "+z" or self.scale != 1.0


class ExportContext:
    """The scene being exported and everything derived from it, each computed once on first use.

    Writers read what they need (``collision``, ``pieces`` ...) and record the files they write
    with `add`.
    """

    def __init__(self, scene: GaussianScene, out: Path, config: ExportConfig, info: dict[str, Any], stage: Stage,
                 formats: Sequence[str] = ()):
        self.scene = scene
        self.out = out
        self.config = config
        self.formats = tuple(formats)  # what `write_assets` will write (their libraries load early: `load_writers`)
        self.info = info
        self.stage = stage
        self.timings: dict[str, float] = {}
        # A dynamic bundle's moving parts (`lyra_sim.exporters.dynamic_bundle.PartAssets`), which the
        # USD and MJCF writers add; ``scene`` is then the static part.
        self.moving: Sequence[Any] = ()
        self._nav_job: Future | None = None

    def timed(self, name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start

    @cached_property
    def floaters(self) -> tuple[np.ndarray | None, dict[str, Any] | None]:
        """``(mask of the splats left out of collision extraction, stats)``, or (None, None)."""
        if self.config.floaters is None:
            return None, None
        mask, stats = find_floaters(self.scene, self.config.floaters)
        if stats["count"]:
            self.stage(f"leaving {stats['count']:,} floater(s) of {stats['of']:,} splats out of collision extraction")
        return mask, stats

    @cached_property
    def collision(self) -> CollisionMesh:
        mask, _ = self.floaters
        solid = self.scene if mask is None or not bool(mask.any()) else self.scene.select(~mask)
        mesh = extract_collision_mesh(solid, self.config.collision, self.stage,
                                      meanwhile=lambda: load_writers(self.formats))
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
            (self.out / "collision_parts").mkdir()  # new: no scratch to sweep per file
        names = safe_names(list(self.parts))  # distinct and short: labels of imported scenes can be anything
        for label, parts in self.parts.items():
            files[label] = []
            for j, part in enumerate(parts):
                name = f"collision_parts/{names[label]}_{j:03d}.obj"
                write_mesh(self.out / name, part.vertices, part.faces, sweep=False)
                files[label].append(name)
        return files

    @cached_property
    def static_geometry(self) -> SceneGeometry:
        """The floor box (at the nav grid's floor height) and convex pieces of everything else not
        covered by CoACD parts, written to ``collision_static/``."""
        v, f = self.collision.vertices, self.collision.faces
        if self.parts and self.face_labels is not None:
            names = list(self.scene.label_names)
            decomposed = np.isin(self.face_labels, [names.index(label) for label in self.parts])
            f = f[~decomposed]
        floor_z = self.nav.floor_z
        self.stage("cutting the static collision mesh into a floor box and convex pieces")
        floor, pieces = self.timed("pieces", lambda: static_colliders(v, f, floor_z, self.config.pieces)) if len(f) else (None, [])
        (self.out / "collision_static").mkdir()  # new: no scratch to sweep per file
        files = []
        for i, piece in enumerate(pieces):
            name = f"collision_static/piece_{i:04d}.stl"
            write_mesh(self.out / name, piece.vertices, piece.faces, sweep=False)
            files.append(name)
        mocap = {p.name: MocapBody(p.piece_files, tuple(p.track.positions[0]), tuple(p.track.orientations[0]))
                 for p in self.moving}
        return SceneGeometry(files, self.part_files, "collision.obj", floor, mocap)

    @cached_property
    def colors(self) -> np.ndarray:
        return vertex_colors(self.scene, self.collision.vertices)

    def start_nav(self, pool: ThreadPoolExecutor) -> None:
        """Compute `nav` on ``pool`` from now on; `nav` then waits for it. Its array work (numpy,
        Open3D) releases the GIL, so writers that do not need it (USD) run meanwhile."""
        mesh = self.collision
        self._nav_job = pool.submit(self._nav_grid, mesh)

    def _nav_grid(self, mesh: CollisionMesh) -> NavGrid:
        self.stage("computing the walkable-floor grid (nav.npz)")
        return self.timed("nav", lambda: nav_grid(mesh.vertices, mesh.faces, self.config.nav))

    @cached_property
    def nav(self) -> NavGrid:
        return self._nav_grid(self.collision) if self._nav_job is None else self._nav_job.result()


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
            moving=ctx.moving,
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
USD_FORMATS = frozenset({"usd", "usdz"})
"""Formats whose writers import USD (`lyra_sim.exporters.usd`)."""


def load_writers(formats: Sequence[str]) -> None:
    """Import the libraries the writers of ``formats`` use: trimesh (every bundle writes meshes) and, for
    `USD_FORMATS`, USD (`load_usd`, so the same rule: while no other thread runs Python or NumPy).

    Modules already imported cost nothing. The export calls it while its cleanup waits for the other
    core (0.3-0.4 s idle on a kitchen, where the two imports take 0.5-0.7 s) and again before the nav thread.
    """
    import trimesh  # noqa: F401

    if USD_FORMATS.intersection(formats):
        load_usd()


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
def _load_source(src: Path) -> tuple[GaussianScene, dict[str, Any], Path, list[Path], str]:
    """``(scene, source manifest or {}, splat file, the `PICTURES` it has, its format name)``."""
    if src.is_dir():
        problems = verify(src) if (src / MANIFEST).is_file() else []
        if not (src / "scene.ply").is_file():
            raise FileNotFoundError(f"{src}: no scene.ply (expected a scene directory from `lyra-sim generate`)")
        if problems:
            raise ValueError(f"{src}: the scene directory does not verify against its manifest: {problems[0]}")
        manifest = read_manifest(src) if (src / MANIFEST).is_file() else {}
        pictures = [src / name for name in PICTURES if (src / name).is_file()]
        return read_ply(src / "scene.ply"), manifest, src / "scene.ply", pictures, "ply"
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such file or directory")
    try:
        name = detect_format(src)
    except ValueError as exc:
        raise ValueError(f"{exc} (or a scene directory)") from exc
    return read_splats(src), {}, src, [], name


def _frame_note(alignment: Alignment | None, source_format: str) -> str:
    if alignment is not None:
        return ("Z-up meters, floor at z = 0: every file of the bundle, scene.ply included, is the source moved by "
                "alignment.matrix (x -> M x)")
    return "the source's own, taken as Z-up meters" + ("" if source_format == "ply" else f" (read from {source_format})")


PICTURES = ("preview.png", "floorplan.png")
"""Images of a scene directory that its bundle keeps."""
_FROM_SOURCE = ("prompt", "seed", "world_model", "decoder", "scene_spec", "understood", "unknown", "objects", "preview_camera",
                "floor_plan")


def write_assets(ctx: ExportContext, formats: Sequence[str], source_manifest: dict[str, Any]) -> dict[str, Any]:
    """Write ``collision.obj``, the formats' files and ``nav.npz`` of ``ctx.scene`` into ``ctx.out``.

    Returns the manifest fields that describe them (everything but where the scene came from).
    """
    scene, config, tmp = ctx.scene, ctx.config, ctx.out
    mesh = ctx.collision
    load_writers(formats)  # before the nav thread: importing USD beside a thread in NumPy can deadlock (see load_usd)
    with ThreadPoolExecutor(1) as pool:
        ctx.start_nav(pool)  # beside the files below; the MJCF / URDF writers wait for it (floor height)
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
    data = {
        **ctx.info,
        "kind": "bundle",
        "formats": list(formats),
        "num_gaussians": len(scene),
        "sh_degree": scene.sh_degree,
        "label_names": list(scene.label_names),
        "bounds": bounds,
        "collision": stats,
        "nav": {**ctx.nav.summary(config.spawn_radius), "config": asdict(config.nav)},
    }
    if ctx.floaters[1] is not None:
        floaters = ctx.floaters[1]
        data["floaters"] = {"removed_from_collision": floaters["count"], **{k: v for k, v in floaters.items() if k != "count"}}
    if config.convex is not None:
        data["convex"] = {"config": asdict(config.convex), "parts": {label: len(files) for label, files in part_files.items()}}
    return data


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
    check_target_dir(out, overwrite or in_place)
    stage(f"reading {src}")
    scene, source_manifest, ply_path, pictures, source_format = _load_source(src)
    if len(scene) == 0:
        raise ValueError(f"{src}: the scene has no Gaussians")
    alignment: Alignment | None = None
    if config.aligns:
        stage(f"aligning (up {config.up}, scale {config.scale})")
        try:
            alignment = estimate_alignment(scene, config.up, config.scale)
        except ValueError as exc:
            raise ValueError(f"{src}: {exc}") from exc
        scene = transform_scene(scene, alignment)
        stage(f"aligned: {alignment.summary()}")

    packages = package_versions(EXPORT_PACKAGES)
    info = {k: source_manifest[k] for k in _FROM_SOURCE if source_manifest.get(k) is not None}
    info.update({"source": ply_path.name if not src.is_dir() else "scene directory", "packages": packages})
    with atomic_directory(out, overwrite=overwrite or in_place) as tmp:
        ctx = ExportContext(scene, tmp, config, info, stage, formats)
        if alignment is None and source_format == "ply":
            shutil.copyfile(ply_path, tmp / "scene.ply")
        else:  # another format, or moved into the bundle's frame: the Gaussians as the bundle uses them
            write_ply(tmp / "scene.ply", scene)
        for picture in pictures:
            shutil.copyfile(picture, tmp / picture.name)
        try:
            ctx.collision  # computed once (cached) for write_assets
        except ValueError as exc:  # about the scene: name it
            raise ValueError(f"{src}: {exc}") from None
        manifest_data = write_assets(ctx, formats, source_manifest)
        manifest_data.update({
            "source_sha256": sha256_file(ply_path),
            "source_format": source_format,
            "frame": _frame_note(alignment, source_format),
        })
        if alignment is not None:
            manifest_data["alignment"] = alignment.as_dict()
        stage("writing manifest.json")
        manifest = write_manifest(tmp, manifest_data)
    if timings is not None:
        timings.update(ctx.timings)
    return manifest

"""USD export: splats as ``UsdVol.ParticleField3DGaussianSplat``, colliders as ``UsdPhysics`` meshes.

Files:

- ``splats.usdc`` — one ``ParticleField3DGaussianSplat`` prim (binary crate: a million
  Gaussians with degree-3 SH would be hundreds of MB as text);
- ``scene.usda`` — the stage users open: ``upAxis = Z``, ``metersPerUnit = 1``, default prim
  ``/World``, prompt / seed / versions in the layer's ``customLayerData``. It references the
  splats at ``/World/Splats`` and holds the colliders:

  - ``/World/Collision/Static``: the static scene, a ``UsdGeom.Mesh`` with ``PhysicsCollisionAPI``
    and ``PhysicsMeshCollisionAPI`` (approximation ``none``: a triangle mesh, which PhysX allows
    for static colliders), purpose ``guide`` so renderers skip it;
  - ``/World/Collision/Parts/part_NNN``: convex parts, if given (approximation ``convexHull``);
  - ``/World/PhysicsScene``: a ``UsdPhysics.Scene`` with gravity -Z, 9.81 m/s²;
  - semantics (``UsdSemantics.LabelsAPI``, taxonomies ``class`` and ``instance``): per-Gaussian
    label indices as the primvar ``primvars:semantics:labelIndex`` on the splats, with the names
    in the custom attribute ``semantics:labelNames``; on the collision mesh one
    ``UsdGeom.Subset`` (family ``semantics``) per label, each with ``LabelsAPI`` applied.

- ``scene.usdz`` — the two layers packed by ``UsdUtils.CreateNewUsdzPackage``.

Attribute names come from usd-core's own schema classes (``CreatePositionsAttr`` & co.), the
values from the activated `GaussianScene` fields: positions = means, orientations = quats
(USD stores ``GfQuatf`` as real + imaginary, converted from our wxyz), scales = standard
deviations (meters), opacities in [0, 1], SH coefficients grouped per particle, ``K`` float3
each (DC first), degree = the scene's SH degree.

`validate` runs every validator registered with ``UsdValidation`` (the framework behind
``usdchecker``; usd-core 26 no longer ships ``UsdUtils.ComplianceChecker``).

`load_usd` imports the libraries before other threads start: see there why.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lyra_sim.atomic import atomic_path
from lyra_sim.scene import GaussianScene

from .mesh_tools import safe_names

SPLATS_FILE = "splats.usdc"
ROOT_PRIM = "/World"
SEMANTICS_FAMILY = "semantics"


@dataclass(frozen=True)
class ColliderMesh:
    """A triangle mesh to author as a collider: ``vertices [V, 3]``, ``faces [F, 3]`` (CCW outward)."""

    vertices: np.ndarray
    faces: np.ndarray


def kind_of(label: str) -> str:
    """Class of an instance label: ``chair_1`` → ``chair``; names without an index stay as they are."""
    return re.sub(r"_\d+$", "", label)


def _apply_labels(prim, label: str) -> None:
    from pxr import UsdSemantics

    UsdSemantics.LabelsAPI.Apply(prim, "class").CreateLabelsAttr([kind_of(label)])
    UsdSemantics.LabelsAPI.Apply(prim, "instance").CreateLabelsAttr([label])


def _to_plain(value: Any) -> Any:
    """JSON-like data → values USD dictionaries accept (no None; tuples as lists; ints/floats/str)."""
    if isinstance(value, dict):
        return {str(k): _to_plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value if v is not None]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


# ---------------------------------------------------------------- splats layer
def write_splats_layer(path: str | os.PathLike, scene: GaussianScene) -> Path:
    """Write ``scene`` as a layer whose default prim ``/Splats`` is a ``ParticleField3DGaussianSplat``."""
    from pxr import Gf, Usd, UsdGeom, UsdVol, Vt

    if len(scene) == 0:
        raise ValueError("usd: the scene has no Gaussians")
    s = scene.to("cpu")
    means = s.means.numpy().astype(np.float32)
    wxyz = s.quats.numpy().astype(np.float32)
    scales = s.scales.numpy().astype(np.float32)
    stage = Usd.Stage.CreateInMemory()
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    splats = UsdVol.ParticleField3DGaussianSplat.Define(stage, "/Splats")
    stage.SetDefaultPrim(splats.GetPrim())
    splats.CreatePositionsAttr(Vt.Vec3fArray.FromNumpy(means))
    # Vt.QuatfArray's numpy layout is (x, y, z, w): imaginary first, as GfQuatf stores it.
    splats.CreateOrientationsAttr(Vt.QuatfArray.FromNumpy(np.ascontiguousarray(wxyz[:, [1, 2, 3, 0]])))
    splats.CreateScalesAttr(Vt.Vec3fArray.FromNumpy(scales))
    splats.CreateOpacitiesAttr(Vt.FloatArray.FromNumpy(s.opacities.numpy().astype(np.float32)))
    splats.CreateRadianceSphericalHarmonicsDegreeAttr(int(s.sh_degree))
    coeffs = s.sh.numpy().astype(np.float32).reshape(-1, 3)  # [N * K, 3], grouped per particle
    splats.CreateRadianceSphericalHarmonicsCoefficientsAttr(Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(coeffs)))
    reach = 3.0 * scales.max(axis=1, keepdims=True)  # 3 sigma: where a Gaussian fades out
    lo, hi = (means - reach).min(0), (means + reach).max(0)
    splats.CreateExtentAttr(Vt.Vec3fArray([Gf.Vec3f(*lo.tolist()), Gf.Vec3f(*hi.tolist())]))
    splats.CreateDisplayColorPrimvar(UsdGeom.Tokens.vertex).Set(
        Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(s.rgb.numpy().astype(np.float32)))
    )
    if s.labels is not None:
        _apply_labels_to_splats(splats.GetPrim(), s.labels.numpy(), s.label_names)
    with atomic_path(path) as tmp:
        if not stage.GetRootLayer().Export(str(tmp)):
            raise OSError(f"{path}: USD could not write the layer")
    return Path(path)


def _apply_labels_to_splats(prim, labels: np.ndarray, label_names: Sequence[str]) -> None:
    from pxr import Sdf, UsdGeom, Vt

    primvar = UsdGeom.PrimvarsAPI(prim).CreatePrimvar(
        "semantics:labelIndex", Sdf.ValueTypeNames.IntArray, UsdGeom.Tokens.vertex
    )
    primvar.Set(Vt.IntArray.FromNumpy(labels.astype(np.int32)))
    prim.CreateAttribute("semantics:labelNames", Sdf.ValueTypeNames.StringArray, custom=True).Set(list(label_names))


# ---------------------------------------------------------------- root stage
def _define_collider(stage, path: str, mesh: ColliderMesh, approximation: str):
    from pxr import Gf, UsdGeom, UsdPhysics, Vt

    v = np.asarray(mesh.vertices, dtype=np.float32)
    f = np.asarray(mesh.faces, dtype=np.int32)
    geom = UsdGeom.Mesh.Define(stage, path)
    geom.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(v)))
    geom.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(len(f), 3, dtype=np.int32)))
    geom.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(np.ascontiguousarray(f.ravel())))
    geom.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)  # a polygon mesh, not a subdivision cage
    geom.CreateOrientationAttr(UsdGeom.Tokens.rightHanded)
    geom.CreatePurposeAttr(UsdGeom.Tokens.guide)
    geom.CreateExtentAttr(Vt.Vec3fArray([Gf.Vec3f(*v.min(0).tolist()), Gf.Vec3f(*v.max(0).tolist())]))
    UsdPhysics.CollisionAPI.Apply(geom.GetPrim()).CreateCollisionEnabledAttr(True)
    UsdPhysics.MeshCollisionAPI.Apply(geom.GetPrim()).CreateApproximationAttr(approximation)
    return geom


def _author_root(
    stage,
    collision: ColliderMesh,
    parts: Sequence[ColliderMesh],
    face_labels: np.ndarray | None,
    label_names: Sequence[str],
    custom_data: dict[str, Any] | None,
) -> None:
    """Author metadata, the splat reference, physics and colliders on the root stage."""
    from pxr import Kind, Usd, UsdGeom, UsdPhysics, Vt

    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdPhysics.SetStageKilogramsPerUnit(stage, 1.0)
    world = UsdGeom.Xform.Define(stage, ROOT_PRIM)
    stage.SetDefaultPrim(world.GetPrim())
    Usd.ModelAPI(world.GetPrim()).SetKind(Kind.Tokens.component)
    layer = stage.GetRootLayer()
    layer.customLayerData = {"lyra_sim": _to_plain(custom_data or {})}

    splats = stage.DefinePrim(f"{ROOT_PRIM}/Splats")
    splats.GetReferences().AddReference(f"./{SPLATS_FILE}")

    physics = UsdPhysics.Scene.Define(stage, f"{ROOT_PRIM}/PhysicsScene")
    physics.CreateGravityDirectionAttr((0.0, 0.0, -1.0))
    physics.CreateGravityMagnitudeAttr(9.81)

    UsdGeom.Scope.Define(stage, f"{ROOT_PRIM}/Collision")
    static = _define_collider(stage, f"{ROOT_PRIM}/Collision/Static", collision, UsdPhysics.Tokens.none)
    if face_labels is not None:
        face_labels = np.asarray(face_labels)
        if face_labels.shape != (len(collision.faces),):
            raise ValueError(f"face_labels: expected shape [{len(collision.faces)}], got {list(face_labels.shape)}")
        prims = safe_names(label_names)  # distinct: two labels never share (merge into) one subset
        for index, label in enumerate(label_names):
            faces = np.nonzero(face_labels == index)[0].astype(np.int32)
            if len(faces) == 0:
                continue
            subset = UsdGeom.Subset.Define(stage, static.GetPath().AppendChild(prims[label]))
            subset.CreateElementTypeAttr(UsdGeom.Tokens.face)
            subset.CreateFamilyNameAttr(SEMANTICS_FAMILY)
            subset.CreateIndicesAttr(Vt.IntArray.FromNumpy(faces))
            _apply_labels(subset.GetPrim(), label)
        UsdGeom.Subset.SetFamilyType(static, SEMANTICS_FAMILY, UsdGeom.Tokens.nonOverlapping)
    if parts:
        UsdGeom.Scope.Define(stage, f"{ROOT_PRIM}/Collision/Parts")
        for i, part in enumerate(parts):
            _define_collider(stage, f"{ROOT_PRIM}/Collision/Parts/part_{i:03d}", part, UsdPhysics.Tokens.convexHull)


def write_usd(
    out_dir: str | os.PathLike,
    scene: GaussianScene,
    collision: ColliderMesh,
    *,
    parts: Sequence[ColliderMesh] = (),
    face_labels: np.ndarray | None = None,
    label_names: Sequence[str] = (),
    custom_data: dict[str, Any] | None = None,
    name: str = "scene.usda",
    moving: Sequence[Any] = (),
) -> list[Path]:
    """Write ``splats.usdc`` and ``name`` (``scene.usda``) into ``out_dir``.

    Args:
        scene: the Gaussians.
        collision: the static collision mesh.
        parts: convex parts (CoACD), authored with approximation ``convexHull``.
        face_labels: ``[F]`` label index per collision face (-1: none), indexing ``label_names``.
        custom_data: JSON-like dict stored under ``lyra_sim`` in ``customLayerData``.
        moving: a dynamic bundle's moving parts (`lyra_sim.exporters.usd_motion`); their splat
            layers are written under ``parts/``.

    Returns:
        The written paths.
    """
    from pxr import Usd

    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise FileNotFoundError(f"{out_dir}: the directory does not exist")
    if len(collision.faces) == 0:
        raise ValueError("usd: the collision mesh has no faces")
    from .usd_motion import author_moving_parts, write_part_layers

    splats_path = write_splats_layer(out_dir / SPLATS_FILE, scene)
    part_paths = write_part_layers(out_dir, moving)
    root_path = out_dir / name
    # The stage is created on disk beside splats.usdc (under a temporary name), so the
    # relative reference resolves while authoring; the rename makes it visible atomically.
    with atomic_path(root_path) as tmp:
        tmp.unlink()
        stage = Usd.Stage.CreateNew(str(tmp))
        _author_root(stage, collision, parts, face_labels, label_names, custom_data)
        author_moving_parts(stage, moving)
        stage.GetRootLayer().Save()
        del stage
    return [splats_path, *part_paths, root_path]


ZIP_TIMESTAMP = 315_576_000
"""Modification time (1980-01-01 12:00 UTC, the zip epoch's first day) given to packed files,
so that a package depends only on its content: USD's zip writer records each file's mtime."""


def write_usdz(usd_path: str | os.PathLike, usdz_path: str | os.PathLike) -> Path:
    """Pack a stage and the layers it depends on into a ``.usdz``, atomically and reproducibly.

    The layers are copied into a scratch directory (same relative layout) whose files get a
    fixed modification time, and packed from there with ``UsdUtils.CreateNewUsdzPackage``.
    """
    from pxr import Sdf, UsdUtils

    usd_path, usdz_path = Path(usd_path).resolve(), Path(usdz_path)
    if not usd_path.is_file():
        raise FileNotFoundError(f"{usd_path}: no such file")
    layers, _, unresolved = UsdUtils.ComputeAllDependencies(Sdf.AssetPath(str(usd_path)))
    if unresolved:
        raise FileNotFoundError(f"{usd_path}: unresolved dependencies {list(unresolved)}")
    scratch = Path(tempfile.mkdtemp(prefix=".usdz.", dir=usdz_path.parent))
    try:
        for layer in layers:
            source = Path(layer.realPath)
            target = scratch / source.relative_to(usd_path.parent)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            os.utime(target, (ZIP_TIMESTAMP, ZIP_TIMESTAMP))
        with atomic_path(usdz_path) as tmp:
            if not UsdUtils.CreateNewUsdzPackage(Sdf.AssetPath(str(scratch / usd_path.name)), str(tmp)):
                raise OSError(f"{usdz_path}: USD could not write the package")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return usdz_path


USD_MODULES = ("Gf", "Kind", "Sdf", "Usd", "UsdGeom", "UsdPhysics", "UsdSemantics", "UsdUtils", "UsdVol", "Vt")
"""The ``pxr`` modules the writers here and in `lyra_sim.exporters.usd_motion` use."""


def load_usd() -> None:
    """Import `USD_MODULES` on the calling thread; call it while no other thread runs Python (or NumPy).

    Loading a USD library runs its static initializers inside ``dlopen``, with the dynamic loader's lock held,
    and they release and retake the GIL (``TfPyLock``). A thread that took the GIL meanwhile and then needs the
    loader's lock deadlocks with them, and NumPy takes it on its binary operations (``dladdr``, to see whether
    it may reuse a temporary): a bundle export that never finished, its nav-grid thread in NumPy and its main
    thread in ``dlopen("pxr/Tf/_tf.so")``. Modules already imported cost nothing.
    """
    import importlib

    for name in USD_MODULES:
        importlib.import_module(f"pxr.{name}")


def validate(path: str | os.PathLike) -> list[str]:
    """Errors and warnings of every registered ``UsdValidation`` validator on the stage at ``path``."""
    from pxr import Usd, UsdValidation

    stage = Usd.Stage.Open(str(path))
    if stage is None:
        return [f"{path}: USD cannot open it"]
    registry = UsdValidation.ValidationRegistry()
    context = UsdValidation.ValidationContext(registry.GetOrLoadAllValidators())
    problems = []
    for error in context.Validate(stage):
        if error.HasNoError() or error.GetType() == UsdValidation.ValidationErrorType.Info:
            continue
        problems.append(f"{error.GetIdentifier()}: {error.GetMessage()}")
    return sorted(problems)


def write_usd_bundle(
    out_dir: str | os.PathLike,
    scene: GaussianScene,
    collision: ColliderMesh,
    *,
    usdz: bool,
    usda: bool = True,
    **kwargs: Any,
) -> list[Path]:
    """`write_usd` and/or `write_usdz` into ``out_dir``; a usdz alone is packed from a scratch stage."""
    out_dir = Path(out_dir)
    if usda:
        paths = write_usd(out_dir, scene, collision, **kwargs)
        if usdz:
            paths.append(write_usdz(out_dir / "scene.usda", out_dir / "scene.usdz"))
        return paths
    scratch = Path(tempfile.mkdtemp(prefix=".usd.", dir=out_dir))
    try:
        write_usd(scratch, scene, collision, **kwargs)
        return [write_usdz(scratch / "scene.usda", out_dir / "scene.usdz")]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

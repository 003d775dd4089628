"""USD for a dynamic bundle's moving parts: splats and kinematic colliders under time-sampled transforms.

Each moving part is an ``Xform`` at ``/World/Moving/<name>`` whose ``xformOp:translate`` (double3)
and ``xformOp:orient`` (quatd) carry one time sample per pose of one whole loop
(`lyra_sim.exporters.motion_track.MotionTrack.cycle`; USD interpolates them as the tracks do:
translation linearly, orientation by slerp). Under it:

- ``Splats``: a reference to the part's ``ParticleField3DGaussianSplat`` layer
  (``parts/<name>/splats.usdc``), its Gaussians in the part's frame;
- ``Collision/piece_NNNN``: its convex pieces as ``UsdPhysics`` colliders (approximation
  ``convexHull``), purpose ``guide``.

The ``Xform`` has ``PhysicsRigidBodyAPI`` with ``kinematicEnabled``: physics moves it along its
time samples and it pushes dynamic bodies, as a mocap body does in MuJoCo. The stage's
``timeCodesPerSecond`` is the scene's frame rate (60 when the times are irregular), its start
and end time codes span one loop of the longest motion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .mesh_tools import safe_name

MOVING_ROOT = "/World/Moving"
DEFAULT_TIME_CODES_PER_SECOND = 60.0


def part_splats_file(name: str) -> str:
    """The part's splat layer, relative to the bundle root."""
    return f"parts/{safe_name(name)}/splats.usdc"


def time_codes_per_second(times: Sequence[float]) -> float:
    """The frame rate of equally spaced ``times`` (rounded to 1e-6), else `DEFAULT_TIME_CODES_PER_SECOND`."""
    steps = np.diff(np.asarray(times, dtype=np.float64))
    if len(steps) and np.ptp(steps) <= 1e-9 * max(1.0, steps.max()):
        return round(1.0 / float(steps.mean()), 6)
    return DEFAULT_TIME_CODES_PER_SECOND


def write_part_layers(out_dir: Path, parts: Sequence[Any]) -> list[Path]:
    """Every part's splat layer (`part_splats_file`) under ``out_dir``."""
    from .usd import write_splats_layer

    paths = []
    for part in parts:
        path = out_dir / part_splats_file(part.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        paths.append(write_splats_layer(path, part.gaussians))
    return paths


def author_moving_parts(stage, parts: Sequence[Any]) -> None:
    """Author ``parts`` (`lyra_sim.exporters.dynamic_bundle.PartAssets`) on ``stage`` (see the module docstring)."""
    from pxr import Gf, Sdf, Usd, UsdGeom, UsdPhysics

    from .usd import ColliderMesh, _apply_labels, _define_collider

    if not parts:
        return
    times = parts[0].track.times
    tcps = time_codes_per_second(times)
    stage.SetTimeCodesPerSecond(tcps)
    stage.SetFramesPerSecond(tcps)
    stage.SetStartTimeCode(float(times[0] * tcps))
    stage.SetEndTimeCode(float(max(times[0] + p.track.period for p in parts) * tcps))
    UsdGeom.Scope.Define(stage, MOVING_ROOT)
    for part in parts:
        root = f"{MOVING_ROOT}/{safe_name(part.name)}"
        xform = UsdGeom.Xform.Define(stage, root)
        translate = xform.AddTranslateOp(UsdGeom.XformOp.PrecisionDouble)
        orient = xform.AddOrientOp(UsdGeom.XformOp.PrecisionDouble)
        for t, p, q in zip(*part.track.cycle()):
            code = Usd.TimeCode(float(t * tcps))
            translate.Set(Gf.Vec3d(*map(float, p)), code)
            orient.Set(Gf.Quatd(float(q[0]), Gf.Vec3d(*map(float, q[1:]))), code)
        body = UsdPhysics.RigidBodyAPI.Apply(xform.GetPrim())
        body.CreateKinematicEnabledAttr(True)
        splats = stage.DefinePrim(f"{root}/Splats")
        splats.GetReferences().AddReference(f"./{part_splats_file(part.name)}")
        if part.label is not None:
            _apply_labels(xform.GetPrim(), part.label)
        UsdGeom.Scope.Define(stage, f"{root}/Collision")
        for i, piece in enumerate(part.pieces):
            _define_collider(stage, f"{root}/Collision/piece_{i:04d}", ColliderMesh(piece.vertices, piece.faces),
                             UsdPhysics.Tokens.convexHull)
        xform.GetPrim().CreateAttribute("lyra_sim:loop", Sdf.ValueTypeNames.Token, custom=True).Set(part.track.loop)

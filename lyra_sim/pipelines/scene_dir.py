"""The scene directory: ``scene.ply``, ``preview.png`` and ``manifest.json``, from any scene source.

Every way of making Gaussians (`lyra_sim.pipelines.sources`: the procedural world's own, or
Lyra's decoder over any world model) ends in `generate_scene`, which writes the directory
atomically with one manifest layout. A dynamic source's scene (`lyra_sim.pipelines.dynamic`)
adds ``scene4d/``, ``preview.mp4`` and ``input.mp4`` and the manifest's ``dynamic`` record;
``scene.ply`` and ``preview.png`` then show its first time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

from PIL import Image

from ..atomic import atomic_directory, check_target_dir
from ..cameras import Cameras, ViewConfig
from ..images import to_uint8
from ..manifest import package_versions, write_manifest
from ..ply import write_ply
from ..render import fastest_backend, numba_impl, render
from ..scene import GaussianScene
from .dynamic import write_dynamic_files
from .sources import SceneSource, Stage


def write_scene_dir(
    out: str | os.PathLike,
    scene: GaussianScene,
    preview: Cameras,
    fields: dict[str, Any],
    *,
    overwrite: bool = False,
    stage: Stage = lambda name: None,
    images: dict[str, Image.Image] | None = None,
    extras: Callable[[Path], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write ``scene.ply``, ``preview.png`` (``scene`` rendered from the one camera ``preview``)
    and ``manifest.json`` into ``out`` atomically; whichever path made the Gaussians.

    Args:
        fields: how the scene was made (prompt, seed, world model, ...); this adds what follows
            from the scene itself: Gaussian count, SH degree, bounds (merged into
            ``fields["bounds"]``), label names, the preview camera, package versions.
        images: more PNG files to write, by name (a building's ``floorplan.png``).
        extras: writes more files into the directory being built (given its path) and returns
            manifest fields for them (a dynamic scene's ``scene4d/`` and videos).

    Returns:
        The manifest that was written.
    """
    with atomic_directory(out, overwrite=overwrite) as tmp:
        stage(f"writing {len(scene):,} Gaussians to scene.ply")
        write_ply(tmp / "scene.ply", scene)
        stage("rendering preview.png")
        rgb = render(scene, preview.to(scene.means.device), mode="RGB", backend=fastest_backend(scene.means.device)).rgb[0]
        Image.fromarray(to_uint8(rgb).cpu().numpy()).save(tmp / "preview.png", optimize=False)
        for name, image in (images or {}).items():
            stage(f"writing {name}")
            image.save(tmp / name, optimize=False)
        fields = {**fields, **(extras(tmp) if extras is not None else {})}
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
    out: str | os.PathLike,
    source: SceneSource,
    *,
    overwrite: bool = False,
    view: ViewConfig = ViewConfig(),
    stage: Stage = lambda name: None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Make a scene with ``source`` and write its directory ``out`` atomically.

    Args:
        out: the directory to create; it must not exist or be empty unless ``overwrite``
            (checked before any work).
        source: where the Gaussians come from (`ProceduralSource`, `DecoderSource`, ...).
        view: size and field of view of ``preview.png``.
        stage: called with a short description as each step starts (progress display).
        timings: if given, filled with seconds per step (they stay out of the files).

    Returns:
        The manifest that was written.
    """
    out = check_target_dir(out, overwrite)
    numba_impl.preload()  # beside the world model: the preview (and a bundle's depth views) draw with it
    made = source.make(view, stage)
    start = time.perf_counter()
    extras = None if made.dynamic is None else (lambda tmp: {"dynamic": write_dynamic_files(tmp, made, stage)})
    manifest = write_scene_dir(out, made.scene, made.preview, made.fields, overwrite=overwrite, stage=stage,
                               images=made.images, extras=extras)
    if timings is not None:
        timings.update(made.timings, write=time.perf_counter() - start)
    return manifest

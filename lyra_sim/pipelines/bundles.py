"""Scene source → asset bundle in one go: the scene directory is written to scratch space beside
``out``, exported from there (`lyra_sim.exporters.bundle.export_bundle`; a dynamic source's by
`lyra_sim.exporters.dynamic_bundle.export_dynamic_bundle`), and deleted; only the finished bundle
ever appears at ``out``. Scratch of a killed run is swept by a later one
(`lyra_sim.atomic.sweep_scratch`)."""

from __future__ import annotations

import os
import shutil
import time
from typing import Any, Sequence

from ..atomic import check_target_dir, scratch_directory
from ..cameras import ViewConfig
from ..exporters.bundle import DEFAULT_FORMATS, ExportConfig, export_bundle, parse_formats
from ..exporters.dynamic_bundle import export_dynamic_bundle, scene4d_of
from .scene_dir import generate_scene
from .sources import SceneSource, Stage


def generate_bundle(
    out: str | os.PathLike,
    source: SceneSource,
    formats: Sequence[str] = DEFAULT_FORMATS,
    config: ExportConfig = ExportConfig(),
    *,
    overwrite: bool = False,
    view: ViewConfig = ViewConfig(),
    stage: Stage = lambda name: None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Make a scene with ``source`` and export its bundle to ``out``.

    Args:
        out: the bundle directory; must not exist or be empty unless ``overwrite`` (checked first).
        source: any scene source (`lyra_sim.pipelines.sources`).
        formats, config: what `lyra_sim.exporters.bundle.export_bundle` writes.
        timings: if given, filled with seconds per step, ``generation`` included.

    Returns:
        The bundle's manifest.
    """
    out = check_target_dir(out, overwrite)
    formats = parse_formats(formats)
    scratch = scratch_directory(out, "gen")  # named for this process: swept by a later run if it is killed
    try:
        start = time.perf_counter()
        made: dict[str, float] = {}
        generate_scene(scratch / "scene", source, view=view, stage=stage, timings=made)
        generation = time.perf_counter() - start
        export = export_dynamic_bundle if scene4d_of(scratch / "scene") is not None else export_bundle
        manifest = export(scratch / "scene", out, formats, config, overwrite=overwrite, stage=stage, timings=timings)
        if timings is not None:
            timings.update(made, generation=generation)
        return manifest
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

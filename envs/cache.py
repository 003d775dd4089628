"""The on-disk cache of asset bundles (and their levels of detail) that environments run on.

``gym.make("LyraScene-v0", prompt=..., seed=...)`` needs a bundle: it is generated once and
kept under the cache directory, keyed by everything that shapes it (world model, condition,
seed, generator version, export settings), so a second ``make`` only reads files.

- Root: ``$LYRA_SIM_CACHE`` if set, else ``$XDG_CACHE_HOME/lyra-sim`` (``~/.cache/lyra-sim``).
- ``bundles/<key>/``: complete bundles (`lyra_sim.exporters.bundle`), each verified against
  its manifest before use (a dynamic bundle also against its motion). Imported splats (a splat
  file in any `lyra_sim.exchange` format, or a scene directory) are keyed by the sha256 of that
  file (its ``scene.ply``) and the export settings, the frame (``up``, ``scale``) included; a
  dynamic scene directory by the digest of its ``scene4d/``. A dynamic prompt's key adds its
  frames and fps.
- ``lod/<key>.safetensors``: `lyra_sim.render.lod.GaussianLOD` of a bundle's scene.

Concurrent processes building the same entry take an exclusive ``fcntl`` lock on
``<key>.lock``; the loser waits and then finds the finished entry. Entries are written to a
temporary path and renamed, so a killed build leaves nothing that looks complete, and its
scratch is swept by the next process that uses the cache (`lyra_sim.atomic.sweep_scratch`:
scratch of dead processes only).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from safetensors.torch import load_file, save_file

from lyra_sim.atomic import atomic_path, sweep_scratch
from lyra_sim.exchange import detect_format
from lyra_sim.manifest import read_manifest, sha256_file
from lyra_sim.ply import read_ply
from lyra_sim.scene import GaussianScene

from lyra_sim.exporters.bundle import DEFAULT_FORMATS, ExportConfig, export_bundle
from lyra_sim.exporters.dynamic_bundle import export_dynamic_bundle, scene4d_digest, scene4d_of, verify_bundle
from lyra_sim.pipelines import ProceduralDynamicSource, ProceduralSource, generate_bundle
from lyra_sim.pipelines.diffusers import diffusers_source
from lyra_sim.render.lod import GaussianLOD, LODConfig, build_lod

ENV_EXPORT = ExportConfig()
"""Export settings of cached bundles: the defaults, as ``lyra-sim export`` uses them, so an env and the
CLI build the same nav grid from the same splats (one setting: `NavConfig.resolution`, recorded in
each bundle's manifest under ``nav.config``)."""

LOD_FORMAT = "1"


def cache_root() -> Path:
    """The cache directory (see the module docstring); created on first use."""
    if os.environ.get("LYRA_SIM_CACHE"):
        return Path(os.environ["LYRA_SIM_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lyra-sim"


def cache_key(data: dict[str, Any]) -> str:
    """A short stable hash of JSON-able ``data``."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:24]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _cached_bundle(key: str, build: Callable[[Path], Any], root: Path | None) -> Path:
    """The bundle ``bundles/<key>``, built by ``build(out)`` unless a verified one is there."""
    out = (root or cache_root()) / "bundles" / key
    sweep_scratch(out.parent)
    with _locked(out.with_name(key + ".lock")):
        if out.is_dir() and (out / "manifest.json").is_file() and not verify_bundle(out):
            return out
        build(out)  # atomic: the directory appears complete or not at all
    return out


def bundle_for_prompt(condition: str | dict, seed: int, *, dynamic=None, root: Path | None = None,
                      stage=lambda name: None) -> Path:
    """The cached bundle of the procedural world model for ``condition`` (prompt or spec) and ``seed``;
    with ``dynamic`` (`envs.moving_parts.DynamicConfig`), its dynamic bundle over those frames."""
    from lyra_sim.worlds import GENERATOR_VERSION

    data = {
        "world": "procedural", "condition": condition, "seed": seed, "generator": GENERATOR_VERSION,
        "export": asdict(ENV_EXPORT), "formats": list(DEFAULT_FORMATS),
    }
    if dynamic is not None:
        data["dynamic"] = asdict(dynamic)
    source = ProceduralSource(condition, seed) if dynamic is None else ProceduralDynamicSource(
        condition, seed, dynamic.frames, dynamic.fps)
    return _cached_bundle(
        cache_key(data), lambda out: generate_bundle(out, source, DEFAULT_FORMATS, ENV_EXPORT, overwrite=True, stage=stage),
        root,
    )


def bundle_for_path(path: str | os.PathLike, *, root: Path | None = None, stage=lambda name: None,
                    up: str = "+z", scale: float | str = 1.0) -> Path:
    """A bundle for ``path``: a bundle directory (verified, used in place), or a scene directory /
    splat file in any `lyra_sim.exchange` format (exported into the cache, keyed by the file's
    sha256 and the export settings, ``up`` and ``scale`` included)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"scene: {path} does not exist (expected a bundle directory, a scene directory or a splat file)")
    if path.is_dir() and (path / "manifest.json").is_file() and read_manifest(path).get("kind") == "bundle":
        if (up, scale) != ("+z", 1.0):
            raise ValueError(f"scene: {path} is a finished bundle; up= and scale= apply to splat files and scene directories")
        problems = verify_bundle(path)
        if problems:
            raise ValueError(f"scene: {path} fails verification: {problems[0]}" + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""))
        missing = [n for n in ("scene.ply", "collision.obj", "nav.npz") if not (path / n).is_file()]
        if missing:
            raise ValueError(f"scene: {path} is a bundle without {', '.join(missing)} (re-export it with lyra-sim export)")
        return path
    if path.is_dir() and scene4d_of(path) is not None:  # a dynamic scene directory (or a scene4d/ itself)
        if (up, scale) != ("+z", 1.0):
            raise ValueError(f"scene: {path} is a dynamic scene; up= and scale= apply to static splat files")
        key = cache_key({"world": "import-dynamic", "scene4d": scene4d_digest(scene4d_of(path)), "export": asdict(ENV_EXPORT),
                         "formats": list(DEFAULT_FORMATS)})
        return _cached_bundle(key, lambda out: export_dynamic_bundle(path, out, DEFAULT_FORMATS, ENV_EXPORT, overwrite=True,
                                                                     stage=stage), root)
    ply = path / "scene.ply" if path.is_dir() else path
    if not ply.is_file():
        raise ValueError(f"scene: {path}: expected a bundle directory, a scene directory with scene.ply, or a splat file")
    if path.is_file():
        try:
            detect_format(path)
        except ValueError as exc:
            raise ValueError(f"scene: {exc}") from exc
    export = replace(ENV_EXPORT, up=up, scale=scale)
    key = cache_key({"world": "import", "ply_sha256": sha256_file(ply), "export": asdict(export), "formats": list(DEFAULT_FORMATS)})
    return _cached_bundle(key, lambda out: export_bundle(path, out, DEFAULT_FORMATS, export, overwrite=True, stage=stage), root)


def _lod_tensors(lod: GaussianLOD) -> dict[str, torch.Tensor]:
    s = lod.scene
    out = {
        "means": s.means, "quats": s.quats, "scales": s.scales, "opacities": s.opacities, "sh": s.sh,
        "offsets": lod.offsets, "anchor_lo": lod.anchor_lo, "anchor_hi": lod.anchor_hi,
        "anchor_center": lod.anchor_center, "anchor_radius": lod.anchor_radius, "cell_sizes": lod.cell_sizes,
    }
    if s.labels is not None:
        out["labels"] = s.labels
    return {k: v.contiguous() for k, v in out.items()}


def load_lod(bundle: Path, config: LODConfig = LODConfig(), *, root: Path | None = None) -> GaussianLOD:
    """The level-of-detail structure of ``bundle``'s ``scene.ply``, built once and cached."""
    return load_ply_lod(Path(bundle) / "scene.ply", config, root=root)


def load_ply_lod(ply: Path, config: LODConfig = LODConfig(), *, root: Path | None = None) -> GaussianLOD:
    """The level-of-detail structure of the Gaussians in ``ply`` (a bundle's scene, a moving part's splats),
    built once and cached by the file's sha256."""
    key = cache_key({"ply_sha256": sha256_file(ply), "lod": asdict(config), "format": LOD_FORMAT})
    path = (root or cache_root()) / "lod" / f"{key}.safetensors"
    sweep_scratch(path.parent)
    with _locked(path.with_suffix(".lock")):
        if path.is_file():
            try:
                return _read_lod(path, config)
            except (ValueError, KeyError, OSError, json.JSONDecodeError):
                pass  # unreadable or stale: rebuild below
        lod = build_lod(read_ply(ply), config)
        meta = {"config": json.dumps(asdict(config)), "label_names": json.dumps(list(lod.scene.label_names)), "format": LOD_FORMAT}
        with atomic_path(path) as tmp:
            save_file(_lod_tensors(lod), str(tmp), metadata=meta)
    return lod


def _read_lod(path: Path, config: LODConfig) -> GaussianLOD:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        meta = handle.metadata() or {}
    if meta.get("format") != LOD_FORMAT or json.loads(meta.get("config", "null")) != asdict(config):
        raise ValueError(f"{path}: written for other settings")
    t = load_file(str(path))
    scene = GaussianScene(
        means=t["means"], quats=t["quats"], scales=t["scales"], opacities=t["opacities"], sh=t["sh"],
        labels=t.get("labels"), label_names=tuple(json.loads(meta["label_names"])),
    )
    return GaussianLOD(
        scene=scene, offsets=t["offsets"], anchor_lo=t["anchor_lo"], anchor_hi=t["anchor_hi"],
        anchor_center=t["anchor_center"], anchor_radius=t["anchor_radius"], cell_sizes=t["cell_sizes"], config=config,
    )


def bundle_for_diffusers(
    *, image: str | os.PathLike | None, prompt: str | None, seed: int, models: dict[str, Any],
    root: Path | None = None, stage=lambda name: None,
) -> Path:
    """The cached bundle of the diffusers world model (`lyra_sim.pipelines.diffusers`).

    Args:
        models: keyword arguments of `diffusers_source` naming the models and options
            (``video_model``, ``depth_model``, ``t2i_model``, ``backend``, ``device`` ...); paths
            enter the key as given, the image by its sha256.
    """
    if image is None and prompt is None:
        raise ValueError("world='diffusers' needs an image= or a prompt=")
    image_key = sha256_file(image) if image is not None else None
    key = cache_key({
        "world": "diffusers", "image_sha256": image_key, "prompt": prompt, "seed": seed,
        "models": {k: str(v) for k, v in sorted(models.items())}, "export": asdict(ENV_EXPORT), "formats": list(DEFAULT_FORMATS),
    })

    def build(out: Path) -> None:
        source = diffusers_source(image=image, prompt=prompt, seed=seed, **models)
        generate_bundle(out, source, DEFAULT_FORMATS, ENV_EXPORT, overwrite=True, stage=stage)

    return _cached_bundle(key, build, root)

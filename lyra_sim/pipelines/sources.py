"""Scene sources: where a scene directory's Gaussians come from.

A source is anything with ``make(view, stage) → MadeScene``: the Gaussians, the preview camera
and the manifest fields that say how they were made. `lyra_sim.pipelines.generate_scene`
writes any source's scene the same way; `lyra_sim.pipelines.generate_bundle` exports it.

- `ProceduralSource`: the procedural world model's own Gaussians (the offline default);
- `DecoderSource`: Lyra's path, the 3DGS decoder over any `lyra_sim.video.WorldModel` (the
  procedural world the checkpoint was trained on, or the diffusers world of
  `lyra_sim.pipelines.diffusers`). Its manifest fields come from the world's own description
  (`lyra_sim.pipelines.describe`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import torch
from PIL import Image

from ..cameras import Cameras, ViewConfig, room_view
from ..decoder.checkpoint import resolve_checkpoint
from ..decoder.inference import DecodedScene, checkpoint_world, decode_world
from ..dynamic import DynamicScene
from ..manifest import sha256_file
from ..scene import GaussianScene
from ..video import WorldModel
from ..worlds import procedural
from ..worlds.house import off_room_boxes, preview_room
from ..worlds.plan_drawing import draw_floor_plan
from ..worlds.procedural_video import make_world
from .describe import WORLD_FIELDS, generic_fields, object_boxes

Stage = Callable[[str], None]
"""Progress callback: called with a short description as each step starts."""


@dataclass(frozen=True)
class MadeScene:
    """What a source makes.

    Attributes:
        scene: the Gaussians (CPU or the source's device).
        preview: one camera for ``preview.png``.
        fields: manifest fields saying how the scene was made (prompt, seed, world model, ...).
        timings: seconds per step (never written to a file).
        images: more PNG files of the scene directory, by name (a building's ``floorplan.png``).
        dynamic: for a dynamic scene, the Gaussians at every time (``scene`` is then its first);
            input_video: its monocular input video ``[T, H, W, 3]`` in [0, 1] and input_fps its rate;
            None for a static scene (`lyra_sim.pipelines.dynamic`).
    """

    scene: GaussianScene
    preview: Cameras
    fields: dict[str, Any]
    timings: dict[str, float]
    images: dict[str, Image.Image] = field(default_factory=dict)
    dynamic: DynamicScene | None = None
    input_video: Any = None
    input_fps: float | None = None


class SceneSource(Protocol):
    """Anything that makes a scene (see the module docstring)."""

    def make(self, view: ViewConfig, stage: Stage) -> MadeScene:
        """Make the Gaussians; ``view`` sizes the preview camera."""
        ...


@dataclass(frozen=True)
class ProceduralSource:
    """The procedural world model's own Gaussians.

    Attributes:
        condition: a text prompt, or a scene-spec dict (see `lyra_sim.worlds.spec`).
        seed: same condition + seed → byte-identical files.
    """

    condition: str | dict[str, Any]
    seed: int

    def make(self, view: ViewConfig, stage: Stage) -> MadeScene:
        stage("imagining the scene (procedural world model)")
        world = procedural.generate(self.condition, seed=self.seed)
        cams, fields, images = procedural_made(world, self.condition, self.seed, view)
        return MadeScene(world.gaussians, cams, fields, {}, images)


def procedural_made(world: procedural.ProceduralScene, condition: Any, seed: int,
                    view: ViewConfig) -> tuple[Cameras, dict[str, Any], dict[str, Image.Image]]:
    """The preview camera, manifest fields and images of a procedural world's scene."""
    images: dict[str, Image.Image] = {}
    if world.plan is None:
        cams = room_view(world.room_bounds[0], world.room_bounds[1], object_boxes(world.objects), view)
    else:  # a building: look into one room from inside it, and draw the floor plan
        room = preview_room(world.plan)
        inside = [o for o in world.objects if o.get("room") == room["name"]]
        cams = room_view(room["bounds"][0], room["bounds"][1], object_boxes(inside) + off_room_boxes(room), view)
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
    return cams, fields, images


@dataclass(frozen=True)
class DecoderSource:
    """Lyra's path: ``world`` imagines six trajectories, the decoder turns their latents into Gaussians.

    Attributes:
        condition: what ``world`` takes (prompt or scene spec for the procedural world; for the
            diffusers world ``{"image": path, "prompt": text}``).
        seed: same inputs + seed → same scene (byte-identical on the CPU).
        checkpoint: ``"default"`` (the shipped decoder) or a decoder ``.safetensors`` path.
        world: the world model; None builds the one the checkpoint was trained on, on ``device``.
        device: where the decoder runs (and the default world renders).
        keep_ratio: fraction of decoded Gaussians kept (None: the checkpoint's).
        codec_path: local VAE directory for a decoder trained on VAE latents.
    """

    condition: Any
    seed: int
    checkpoint: str | os.PathLike = "default"
    world: WorldModel | None = None
    device: str = "cpu"
    keep_ratio: float | None = None
    codec_path: str | os.PathLike | None = None

    def make(self, view: ViewConfig, stage: Stage) -> MadeScene:
        path = resolve_checkpoint(self.checkpoint)
        world = self.world
        if world is None:
            settings = checkpoint_world(path)
            world = make_world(settings.name, self.device, spacing=settings.spacing)
        decoded = decode_world(world, self.condition, self.seed, path, device=self.device, keep_ratio=self.keep_ratio,
                               codec_path=self.codec_path, stage=stage)
        fields, preview, images = WORLD_FIELDS.get(world.name, generic_fields)(decoded.video, self.condition, self.seed, view)
        fields["decoder"] = decoder_record(self.checkpoint, path, decoded, self.device)
        # A world model may time its own steps (`DiffusionWorld.timings`).
        return MadeScene(decoded.scene, preview, fields, {**getattr(world, "timings", {}), **decoded.timings}, images)


def decoder_record(checkpoint: Any, path: os.PathLike, decoded: DecodedScene, device: str) -> dict[str, Any]:
    """The manifest's ``decoder`` record: which checkpoint (and its sha256), its config and metadata, where it ran,
    and whether it read the world's depth beside the latents."""
    return {
        "checkpoint": str(checkpoint) if str(checkpoint) == "default" else os.path.basename(path),
        "sha256": sha256_file(path),
        "config": decoded.config,
        "metadata": dict(decoded.metadata),
        "device": torch.device(device).type,
        "depth_input": decoded.depth_input,
    }

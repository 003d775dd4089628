"""How a world model's video becomes manifest fields and a preview camera, per world model.

`WORLD_FIELDS` maps a `lyra_sim.video.WorldModel`'s ``name`` to a describer
``f(video, condition, seed, view) → (fields, preview camera, images)``; worlds without an entry get
`generic_fields`. `lyra_sim.pipelines.sources.DecoderSource` adds the decoder's own record.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any, Callable, Mapping

from PIL import Image

from ..cameras import Cameras, ViewConfig, look_at_cameras
from ..manifest import package_versions, sha256_file
from ..video import MultiViewVideo
from ..worlds.house import preview_room
from ..worlds.plan_drawing import draw_floor_plan
from ..worlds.prompt import parse_prompt

Describer = Callable[[MultiViewVideo, Any, int, ViewConfig], "tuple[dict[str, Any], Cameras, dict[str, Image.Image]]"]

MODEL_PACKAGES = ("diffusers", "transformers", "accelerate")
"""Packages whose versions a diffusers-made manifest records."""


def object_boxes(objects: list[dict[str, Any]]) -> list[tuple[list[float], list[float]]]:
    """``(lo, hi)`` boxes of manifest objects (their ``bbox``), for `lyra_sim.cameras.room_view`."""
    return [(o["bbox"][0], o["bbox"][1]) for o in objects]


def _anchor_preview(video: MultiViewVideo, view: ViewConfig) -> Cameras:
    """The anchor camera (frame 0) at the preview's size, keeping its field of view (the photo's framing)."""
    anchor = video.cameras(0)[0].to("cpu")
    k = anchor.Ks.clone()
    k[:, 0] *= view.width / anchor.width
    k[:, 1] *= view.height / anchor.height
    return replace(anchor, Ks=k, width=view.width, height=view.height)


def procedural_fields(video: MultiViewVideo, condition: Any, seed: int, view: ViewConfig) -> tuple[dict[str, Any], Cameras, dict[str, Image.Image]]:
    """The procedural world: its scene spec, room and objects, and the words of a text prompt."""
    info = video.info
    # The preview looks from the anchor view (where every trajectory starts, so the decoded
    # Gaussians are densest there) at the preview's own size and field of view.
    anchor = video.cameras(0)[0]
    eye = anchor.centers.cpu()
    preview = look_at_cameras(eye, eye + anchor.camtoworlds[:, :3, 2].cpu(), view.width, view.height, view.fov_y_deg)
    fields: dict[str, Any] = {
        "prompt": condition if isinstance(condition, str) else None,
        "seed": seed,
        "world_model": info.get("world_model"),
        "scene_spec": info.get("scene_spec"),
        "bounds": {"room": info["room_bounds"]} if "room_bounds" in info else {},
        "objects": info.get("objects", []),
    }
    if isinstance(condition, str):  # the video's info omits which words were understood
        parsed = parse_prompt(condition)
        fields.update(understood=list(parsed.understood), unknown=list(parsed.unknown))
    images = {}
    if info.get("floor_plan") is not None:  # a building: the decoded Gaussians are its preview room's
        plan = info["floor_plan"]
        fields["floor_plan"] = {**plan, "file": "floorplan.png", "preview_room": preview_room(plan)["name"]}
        images = {"floorplan.png": draw_floor_plan(plan, fields["objects"])}
    return fields, preview, images


def procedural_dynamic_fields(video: MultiViewVideo, condition: Any, seed: int,
                              view: ViewConfig) -> tuple[dict[str, Any], Cameras, dict[str, Image.Image]]:
    """The procedural world over time: as `procedural_fields`, plus its motions (movers, resolved) and the input's times."""
    fields, preview, images = procedural_fields(video, condition, seed, view)
    fields["motions"] = video.info.get("movers", [])
    fields["input_times"] = video.info.get("times")
    return fields, preview, images


def _diffusers_video_fields(video: MultiViewVideo, info: dict[str, Any]) -> dict[str, Any]:
    """The manifest fields both diffusers describers share: the imagined video, its anchor, the packages."""
    return {
        "video": {"trajectories": list(video.trajectories), "num_frames": video.num_frames,
                  "width": int(video.frames.shape[3]), "height": int(video.frames.shape[2]),
                  "travel": info["travel"], "focus_distance": info["focus_distance"],
                  "cache": info["cache"], "depth": info["depth"]},
        "anchor_camera": info["anchor"],
        "objects": [],
        "model_packages": package_versions(MODEL_PACKAGES, python=False),
    }


def diffusers_fields(video: MultiViewVideo, condition: Any, seed: int, view: ViewConfig) -> tuple[dict[str, Any], Cameras, dict[str, Image.Image]]:
    """The diffusers world: the photo (by path and sha256), the video settings, the model packages."""
    info = video.info
    image, prompt = condition.get("image"), condition.get("prompt")
    fields = {
        "prompt": prompt,
        "seed": int(seed),
        "world_model": info["world_model"],
        "condition": {"image": None if image is None else str(image),
                      "image_sha256": None if image is None else sha256_file(image),
                      "prompt": prompt, "anchor_from": info["condition"]["image"]},
        **_diffusers_video_fields(video, info),
    }
    return fields, _anchor_preview(video, view), {}


def diffusers_video_fields(video: MultiViewVideo, condition: Any, seed: int,
                           view: ViewConfig) -> tuple[dict[str, Any], Cameras, dict[str, Image.Image]]:
    """The diffusers video world: the clip (by path and sha256), the picked frames' times, the video settings."""
    info = video.info
    clip, prompt = condition["video"], condition.get("prompt")
    fields = {
        "prompt": prompt,
        "seed": int(seed),
        "world_model": info["world_model"],
        "condition": {"video": str(clip), "video_sha256": sha256_file(clip), "prompt": prompt,
                      "source_fps": info["source_fps"]},
        **_diffusers_video_fields(video, info),
    }
    return fields, _anchor_preview(video, view), {}


def generic_fields(video: MultiViewVideo, condition: Any, seed: int, view: ViewConfig) -> tuple[dict[str, Any], Cameras, dict[str, Image.Image]]:
    """Any other world model: what its video's info says, previewed from the anchor view."""
    info = video.info
    prompt = condition if isinstance(condition, str) else (condition.get("prompt") if isinstance(condition, dict) else None)
    fields = {"prompt": prompt, "seed": int(seed), "world_model": info.get("world_model"), "objects": info.get("objects", [])}
    return fields, _anchor_preview(video, view), {}


WORLD_FIELDS: Mapping[str, Describer] = MappingProxyType({"procedural": procedural_fields,
                                                          "procedural_dynamic": procedural_dynamic_fields,
                                                          "diffusers": diffusers_fields,
                                                          "diffusers_video": diffusers_video_fields})
"""World model name → describer."""

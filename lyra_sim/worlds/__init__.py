"""World models: imagine a scene from a condition (prompt | image | scene spec).

The procedural world model is the offline default: ``generate(prompt_or_spec, seed)``
returns a labeled `GaussianScene`, ground-truth meshes, the resolved `SceneSpec` and the
free floor (see `lyra_sim.worlds.procedural`). Modules:

- `spec`: `SceneSpec` / `RoomSpec` / `ObjectSpec` (JSON, validation, caps);
- `building_spec`: `BuildingSpec` and its rooms, doorways, entrance, windows (a spec's floor plan);
- `prompt`, `building_prompt`: `parse_prompt` (text → spec, with understood / unknown words);
- `floorplan`, `plan_geometry`: room program → polygons, doorways, windows (rectilinear geometry);
- `house`, `house_shell`, `house_openings`, `plan_drawing`: buildings → Gaussians; walls with doorways;
  front door, leaves, windows; ``floorplan.png``;
- `rooms`, `objects`, `moving_objects`, `parts`, `materials`: registries of room types, object kinds
  (and the kinds dynamic scenes animate), textures; the parts objects are built from;
- `motion`, `routes`, `dynamic_layout`, `dynamic_world`, `dynamic_video`: dynamic scenes: motions
  in the spec and the prompt, routes across the floor, placing what moves, the room over time
  (Gaussians and ground truth per time), and as a video world model (Lyra's dynamic videos);
- `layout`: placement without overlaps, with a connected free floor;
- `geometry`, `sampling`, `lighting`: primitives → meshes and surface Gaussians;
- `procedural_video`: the procedural world as a video world model (`lyra_sim.video.WorldModel`);
- `ground_truth`: a generated scene's true meshes, regenerated from its manifest;
- `diffusion`, `depth_cache`, `model_dirs`: the diffusers world model (image / text → video)
  and its local model directories.
"""

from lyra_sim.worlds.building_spec import MAX_BUILDING_AREA, MAX_ROOMS, BuildingRoomSpec, BuildingSpec
from lyra_sim.worlds.motion import MOTION_KINDS, MotionSpec
from lyra_sim.worlds.procedural import (
    GENERATOR_VERSION,
    LabeledMesh,
    ProceduralConfig,
    ProceduralScene,
    generate,
)
from lyra_sim.worlds.prompt import ParseResult, parse_prompt
from lyra_sim.worlds.spec import MAX_OBJECTS, MAX_PER_KIND, ObjectSpec, RoomSpec, SceneSpec, SurfaceSpec

__all__ = [
    "BuildingRoomSpec",
    "BuildingSpec",
    "GENERATOR_VERSION",
    "MAX_BUILDING_AREA",
    "MAX_ROOMS",
    "MOTION_KINDS",
    "LabeledMesh",
    "MotionSpec",
    "MAX_OBJECTS",
    "MAX_PER_KIND",
    "ObjectSpec",
    "ParseResult",
    "ProceduralConfig",
    "ProceduralScene",
    "RoomSpec",
    "SceneSpec",
    "SurfaceSpec",
    "generate",
    "parse_prompt",
]

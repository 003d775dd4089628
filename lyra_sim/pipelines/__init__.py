"""Pipelines: a condition becomes a scene directory, a bundle, a batch of bundles, or a video.

- `sources`: where Gaussians come from (`ProceduralSource`; `DecoderSource`, Lyra's decoder
  over any world model); `describe`: per-world manifest fields of the decoder path;
- `dynamic`: dynamic (4D) sources (`ProceduralDynamicSource`, `DecoderDynamicSource`) and the files a
  dynamic scene directory adds (``scene4d/``, ``preview.mp4``, ``input.mp4``);
  `diffusers`: the diffusers world as a source (`diffusers_source`);
- `scene_dir`: `generate_scene`, the one writer of scene directories;
- `bundles`: `generate_bundle`, any source straight to an asset bundle;
- `batch`: many bundles on Ray; `videos`: ``lyra-sim render``.
"""

from .bundles import generate_bundle
from .dynamic import DecoderDynamicSource, ProceduralDynamicSource
from .scene_dir import generate_scene, write_scene_dir
from .sources import DecoderSource, MadeScene, ProceduralSource, SceneSource

__all__ = ["DecoderDynamicSource", "DecoderSource", "MadeScene", "ProceduralDynamicSource", "ProceduralSource", "SceneSource", "generate_bundle", "generate_scene",
           "write_scene_dir"]

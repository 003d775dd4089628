"""``lyra-sim generate``: a prompt, a scene spec or an image → a scene directory (or, with ``--export``, a bundle)."""

from __future__ import annotations

import argparse
import sys

from .common import Stages, add_export_options, export_config, positive, print_bundle


def add_parser(sub) -> None:
    gen = sub.add_parser("generate", help="generate a scene from a text prompt (or a JSON scene spec)")
    gen.add_argument("prompt", nargs="?", help='e.g. "a kitchen with a table and two chairs"')
    gen.add_argument("--spec", help="a JSON scene spec instead of a prompt")
    gen.add_argument("--seed", type=int, default=0, help="random seed (same prompt + seed → same bytes)")
    gen.add_argument("--out", required=True, help="output directory (must not exist or be empty)")
    gen.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    gen.add_argument("--width", type=positive, default=640, help="preview width in pixels (8..4096)")
    gen.add_argument("--height", type=positive, default=480, help="preview height in pixels (8..4096)")
    gen.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    gen.add_argument("--export", metavar="FORMATS", help="also export an asset bundle into --out: all, or a list such as usd,mjcf")
    gen.add_argument("--decoder", metavar="CKPT", help="make the Gaussians with Lyra's 3DGS decoder from the world model's "
                     "six-trajectory video: 'default' (the shipped checkpoint) or a decoder .safetensors file")
    gen.add_argument("--device", choices=("cpu", "cuda"), help="where --decoder renders and decodes (default cpu; "
                     "the same bytes on a rerun are guaranteed on the CPU)")
    dyn = gen.add_argument_group("dynamic (4D) scenes: the prompt's motions over time (scene4d/, preview.mp4, input.mp4)")
    dyn.add_argument("--dynamic", action="store_true", help='Gaussians per time, e.g. "a kitchen with a person walking"; '
                     "with --decoder, Lyra's time-conditioned decoder ('default': the shipped dynamic checkpoint)")
    dyn.add_argument("--frames", type=int, help="times of a dynamic scene (default 9)")
    dyn.add_argument("--fps", type=float, help="frames per second of a procedural dynamic scene (default 8)")
    dif = gen.add_argument_group("image / text to scene with diffusers models (--world diffusers; local weights only)")
    dif.add_argument("--world", choices=("procedural", "diffusers"), default="procedural",
                     help="procedural (offline default) or diffusers: depth 3D cache + video model + --decoder (default 'default')")
    dif.add_argument("--image", metavar="FILE", help="the anchor photo (with --world diffusers)")
    dif.add_argument("--video", metavar="FILE", help="a monocular video to lift into a dynamic scene (with --world diffusers "
                     "and a time-conditioned --decoder)")
    dif.add_argument("--video-model", metavar="PATH", help="local diffusers video pipeline (Wan VACE for --backend vace)")
    dif.add_argument("--depth-model", metavar="PATH", help="local transformers depth-estimation model (e.g. Depth Anything V2)")
    dif.add_argument("--t2i-model", metavar="PATH", help="local diffusers text-to-image pipeline (draws the image for a PROMPT alone)")
    dif.add_argument("--backend", choices=("vace", "v2v"), default="vace", help="video pipeline: Wan VACE or Wan video-to-video")
    dif.add_argument("--steps", type=positive, default=30, help="video model denoising steps")
    dif.add_argument("--offload", action="store_true", help="model CPU offload (CUDA; for 24-48 GB GPUs)")
    dif.add_argument("--vae-tiling", action="store_true", help="decode the video VAE in tiles (less GPU memory)")
    add_export_options(gen)
    gen.set_defaults(func=run)


def _load_condition(args: argparse.Namespace) -> str | dict:
    if args.spec is not None and args.prompt is not None:
        raise ValueError("give either a PROMPT or --spec FILE, not both")
    if args.spec is not None:
        from lyra_sim.config import read_json

        return read_json(args.spec)
    if args.prompt is None:
        raise ValueError("a PROMPT (or --spec FILE) is required")
    return args.prompt


def _source(args: argparse.Namespace):
    """The scene source the options name: the procedural world's Gaussians, the decoder over it, or diffusers."""
    from lyra_sim.pipelines import DecoderDynamicSource, DecoderSource, ProceduralDynamicSource, ProceduralSource
    from lyra_sim.pipelines.diffusers import diffusers_source, diffusers_video_source

    dynamic = args.dynamic or args.video is not None
    if not dynamic and (args.frames is not None or args.fps is not None):
        raise ValueError("--frames and --fps are for dynamic scenes (--dynamic)")
    frames = 9 if args.frames is None else args.frames
    if dynamic:
        from lyra_sim.worlds.dynamic_world import DEFAULT_FPS, frame_times

        frame_times(frames, DEFAULT_FPS if args.fps is None else args.fps)  # --frames 0: one line, before any work
    if args.world == "diffusers":
        if args.spec is not None:
            raise ValueError("--spec is for the procedural world; --world diffusers takes --image FILE and/or a PROMPT")
        if args.video is not None:
            if args.image is not None:
                raise ValueError("give either --video FILE (a dynamic scene) or --image FILE, not both")
            return diffusers_video_source(
                video=args.video, prompt=args.prompt, seed=args.seed, frames=frames, video_model=args.video_model,
                depth_model=args.depth_model, decoder=args.decoder or "default", backend=args.backend,
                device=args.device or "cpu", offload=args.offload, vae_tiling=args.vae_tiling, steps=args.steps,
            )
        if args.dynamic:
            raise ValueError("--world diffusers --dynamic lifts a video: give --video FILE")
        if args.image is None and args.prompt is None:
            raise ValueError("--world diffusers needs --image FILE and/or a PROMPT (a PROMPT alone also needs --t2i-model PATH)")
        return diffusers_source(
            image=args.image, prompt=args.prompt, seed=args.seed, video_model=args.video_model,
            depth_model=args.depth_model, t2i_model=args.t2i_model, decoder=args.decoder or "default",
            backend=args.backend, device=args.device or "cpu", offload=args.offload, vae_tiling=args.vae_tiling,
            steps=args.steps,
        )
    if args.image is not None or args.video is not None:
        raise ValueError(f"{'--image' if args.image is not None else '--video'} needs --world diffusers (the procedural "
                         "world reads a PROMPT or --spec)")
    condition = _load_condition(args)
    if args.decoder is None:
        if args.device is not None:
            raise ValueError("--device applies to --decoder (the procedural world's Gaussians need no device)")
        if dynamic:
            return ProceduralDynamicSource(condition, args.seed, frames, DEFAULT_FPS if args.fps is None else args.fps)
        return ProceduralSource(condition, args.seed)
    if dynamic:
        if args.fps is not None:
            raise ValueError("--fps: the decoder's video has its checkpoint's frame rate; --frames sets the target times")
        return DecoderDynamicSource(condition, args.seed, frames, args.decoder, device=args.device or "cpu")
    return DecoderSource(condition, args.seed, args.decoder, device=args.device or "cpu")


def _contents(manifest: dict) -> str:
    """What the procedural world made: a room and its objects, or a building and its rooms."""
    spec = manifest["scene_spec"] or {}
    if "building" in spec:
        plan = manifest.get("floor_plan") or {}
        rooms = [r["type"].replace("_", " ") for r in plan.get("rooms", [])]
        return (f"{spec['building']['type']} of {len(rooms)} rooms, {plan.get('area_m2', 0):.0f} m² ({', '.join(rooms)}; "
                f"floor plan in floorplan.png), {len(manifest['objects'])} objects")
    kinds: dict[str, int] = {}
    for obj in manifest["objects"]:
        kinds[obj["kind"]] = kinds.get(obj["kind"], 0) + 1
    return f"{spec['room']['type']} with " + (", ".join(f"{n} {k}" for k, n in kinds.items()) or "no objects")


def run(args: argparse.Namespace) -> int:
    from lyra_sim.cameras import ViewConfig
    from lyra_sim.pipelines import generate_bundle, generate_scene

    stages = Stages(args.quiet)
    view = ViewConfig(args.width, args.height)
    timings: dict[str, float] = {}
    source = _source(args)
    if args.export is not None:
        manifest = generate_bundle(args.out, source, args.export, export_config(args), overwrite=args.overwrite,
                                   view=view, stage=stages, timings=timings)
    else:
        manifest = generate_scene(args.out, source, overwrite=args.overwrite, view=view, stage=stages, timings=timings)
    seconds = stages.elapsed()
    moving = ""
    if "dynamic" in manifest:
        d = manifest["dynamic"]
        movers = ", ".join(f"{m['label']} {m['motion']['kind']}" for m in manifest.get("motions", [])) or ", ".join(
            d.get("parts", [])) or "none"  # a scene directory records the world's motions, a bundle its moving parts
        moving = f"; {len(d['times'])} times over {d['times'][-1] - d['times'][0]:.2f} s (scene4d/), moving: {movers}"
    if args.world == "diffusers":
        inputs = " and ".join(x for x in (args.image and f"image {args.image}", args.prompt and repr(args.prompt)) if x)
        inputs = inputs or f"video {args.video}"
        print(f"{args.out}: {manifest['num_gaussians']:,} Gaussians from {inputs} via {manifest['world_model']['pipeline']}"
              f"{moving} ({seconds:.1f}s)")
        order = ("text_to_image", "depth", "cache_render", "load_video_model", "video", "encode", "decode", "write")
        label = "timings"
    else:
        if manifest.get("unknown"):
            print(f"note: words not understood (ignored): {', '.join(manifest['unknown'])}", file=sys.stderr)
        decoded = f" decoded by {args.decoder}" if args.decoder else ""
        print(f"{args.out}: {_contents(manifest)}; {manifest['num_gaussians']:,} Gaussians{decoded}{moving} ({seconds:.1f}s)")
        order = ("imagine", "encode", "decode", "write") if args.decoder else ()
        label = "decoder timings"
    if order and not args.quiet:
        print(f"{label}: " + ", ".join(f"{k} {timings[k]:.1f}s" for k in order if k in timings), file=sys.stderr)
    if args.export is not None:
        print_bundle(manifest, timings, args.quiet)
    return 0

"""The ``lyra-sim`` command line.

Every failure a user can cause (bad prompt, bad file, existing output) exits non-zero with
one line on stderr and no traceback; nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from . import __version__

# Errors that are the user's to fix: printed as one line. Anything else is a bug and keeps its traceback.
USER_ERRORS = (
    ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError, IsADirectoryError,
    ImportError,  # an optional extra is missing; the message names the pip install
)


class _Stages:
    """Prints each pipeline step as it starts, with the seconds since the command began."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.start = time.perf_counter()

    def __call__(self, name: str) -> None:
        if not self.quiet:
            print(f"[{self.elapsed():5.1f}s] {name}", file=sys.stderr, flush=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def _load_condition(args: argparse.Namespace) -> str | dict:
    if args.spec is not None and args.prompt is not None:
        raise ValueError("give either a PROMPT or --spec FILE, not both")
    if args.spec is not None:
        try:
            return json.loads(Path(args.spec).read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{args.spec}: not valid JSON ({exc})") from exc
    if args.prompt is None:
        raise ValueError("a PROMPT (or --spec FILE) is required")
    return args.prompt


def cmd_generate(args: argparse.Namespace) -> int:
    from .pipeline import ViewConfig

    stages = _Stages(args.quiet)
    view = ViewConfig(args.width, args.height)
    timings: dict[str, float] = {}
    if args.world == "diffusers":
        return _generate_diffusers(args, view, stages, timings)
    if args.image is not None:
        raise ValueError("--image needs --world diffusers (the procedural world reads a PROMPT or --spec)")
    condition = _load_condition(args)
    write_scene = _scene_writer(args, timings)
    if args.export is not None:
        manifest = _generate_bundle(write_scene, condition, args, view, stages, timings)
    else:
        manifest = write_scene(condition, args.seed, args.out, overwrite=args.overwrite, view=view, stage=stages)
    seconds = stages.elapsed()
    if manifest.get("unknown"):
        print(f"note: words not understood (ignored): {', '.join(manifest['unknown'])}", file=sys.stderr)
    kinds = {}
    for obj in manifest["objects"]:
        kinds[obj["kind"]] = kinds.get(obj["kind"], 0) + 1
    contents = ", ".join(f"{n} {k}" for k, n in kinds.items()) or "no objects"
    decoded = f" decoded by {args.decoder}" if args.decoder else ""
    spec = manifest["scene_spec"] or {}
    if "building" in spec:
        plan = manifest.get("floor_plan") or {}
        rooms = [r["type"].replace("_", " ") for r in plan.get("rooms", [])]
        what = (f"{spec['building']['type']} of {len(rooms)} rooms, {plan.get('area_m2', 0):.0f} m² ({', '.join(rooms)}; "
                f"floor plan in floorplan.png), {len(manifest['objects'])} objects")
    else:
        what = f"{spec['room']['type']} with {contents}"
    print(f"{args.out}: {what}; {manifest['num_gaussians']:,} Gaussians{decoded} ({seconds:.1f}s)")
    if args.decoder and not args.quiet:
        order = ("imagine", "encode", "decode", "write")
        print("decoder timings: " + ", ".join(f"{k} {timings[k]:.1f}s" for k in order), file=sys.stderr)
    if args.export is not None:
        _print_bundle(manifest, timings, args.quiet)
    return 0


def _generate_diffusers(args: argparse.Namespace, view, stages: _Stages, timings: dict[str, float]) -> int:
    """``generate --world diffusers``: an image and/or a prompt through local diffusers models and Lyra's decoder."""
    from .diffusion_pipeline import generate_scene_diffusers

    if args.spec is not None:
        raise ValueError("--spec is for the procedural world; --world diffusers takes --image FILE and/or a PROMPT")
    if args.image is None and args.prompt is None:
        raise ValueError("--world diffusers needs --image FILE and/or a PROMPT (a PROMPT alone also needs --t2i-model PATH)")

    def write_scene(prompt, seed, out, **kwargs) -> dict:
        return generate_scene_diffusers(
            out, image=args.image, prompt=prompt, seed=seed, video_model=args.video_model,
            depth_model=args.depth_model, t2i_model=args.t2i_model, decoder=args.decoder or "default",
            backend=args.backend, device=args.device or "cpu", offload=args.offload, vae_tiling=args.vae_tiling,
            steps=args.steps, timings=timings, **kwargs,
        )

    if args.export is not None:
        manifest = _generate_bundle(write_scene, args.prompt, args, view, stages, timings)
    else:
        manifest = write_scene(args.prompt, args.seed, args.out, overwrite=args.overwrite, view=view, stage=stages)
    source = " and ".join(x for x in (args.image and f"image {args.image}", args.prompt and repr(args.prompt)) if x)
    print(f"{args.out}: {manifest['num_gaussians']:,} Gaussians from {source} via {manifest['world_model']['pipeline']} "
          f"({stages.elapsed():.1f}s)")
    if not args.quiet:
        order = ("text_to_image", "depth", "cache_render", "load_video_model", "video", "encode", "decode", "write")
        print("timings: " + ", ".join(f"{k} {timings[k]:.1f}s" for k in order if k in timings), file=sys.stderr)
    if args.export is not None:
        _print_bundle(manifest, timings, args.quiet)
    return 0


def _scene_writer(args: argparse.Namespace, timings: dict[str, float]) -> Callable[..., dict]:
    """Where the Gaussians come from: the procedural world's own, or Lyra's decoder reading its video.

    Either way the result is ``f(condition, seed, out, *, overwrite, view, stage) → manifest``.
    """
    from functools import partial

    from .pipeline import generate_scene, generate_scene_with_decoder

    if args.decoder is None:
        if args.device is not None:
            raise ValueError("--device applies to --decoder (the procedural world's Gaussians need no device)")
        return generate_scene
    return partial(generate_scene_with_decoder, checkpoint=args.decoder, device=args.device or "cpu", timings=timings)


def _generate_bundle(write_scene, condition, args: argparse.Namespace, view, stages: _Stages, timings: dict[str, float]) -> dict:
    """``generate --export``: write the scene directory in scratch space beside ``--out``, export the
    bundle from it; only the finished bundle ever appears at ``--out`` (as `generate_bundle` does,
    for any scene writer)."""
    import shutil
    import tempfile

    from lyra_sim.exporters.bundle import export_bundle, parse_formats

    from .pipeline import check_output_dir

    out = check_output_dir(args.out, args.overwrite)
    formats = parse_formats(args.export)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".gen", dir=out.parent))
    try:
        start = time.perf_counter()
        write_scene(condition, args.seed, scratch / "scene", view=view, stage=stages)
        generation = time.perf_counter() - start
        manifest = export_bundle(scratch / "scene", out, formats, _export_config(args),
                                 overwrite=args.overwrite, stage=stages, timings=timings)
        timings["generation"] = generation
        return manifest
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _export_config(args: argparse.Namespace):
    from dataclasses import replace

    from lyra_sim.exporters.bundle import ExportConfig
    from lyra_sim.exporters.collision import CollisionConfig
    from lyra_sim.exporters.convex import ConvexConfig

    collision = replace(
        CollisionConfig(),
        **{k: v for k, v in (("voxel_size", args.voxel_size), ("resolution", args.resolution),
                              ("num_viewpoints", args.viewpoints), ("face_budget", args.face_budget)) if v is not None},
    )
    return ExportConfig(collision=collision, convex=ConvexConfig(seed=args.convex_seed) if args.convex else None)


def _print_bundle(manifest: dict, timings: dict[str, float], quiet: bool) -> None:
    col = manifest["collision"]
    print(
        f"bundle: {len(manifest['files'])} files ({', '.join(manifest['formats'])}); collision mesh "
        f"{col['faces']:,} faces from {col['views']} depth views, voxel {col['voxel_size'] * 100:.1f} cm"
    )
    if not quiet and timings:
        order = ["generation", "collision.plan", "collision.render", "collision.fusion", "collision.cleanup",
                 "pieces", "convex", "usd", "mjcf", "urdf", "meshes", "nav"]
        parts = [f"{k.removeprefix('collision.')} {timings[k]:.1f}s" for k in order if k in timings]
        print("timings: " + ", ".join(parts), file=sys.stderr)


def cmd_export(args: argparse.Namespace) -> int:
    from lyra_sim.exporters.bundle import export_bundle, parse_formats

    stages = _Stages(args.quiet)
    timings: dict[str, float] = {}
    manifest = export_bundle(
        args.src, args.out, parse_formats(args.formats), _export_config(args),
        overwrite=args.overwrite, stage=stages, timings=timings,
    )
    print(f"{args.out}: {manifest['num_gaussians']:,} Gaussians ({stages.elapsed():.1f}s)")
    _print_bundle(manifest, timings, args.quiet)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .manifest import read_manifest, verify

    problems = verify(args.bundle)
    if problems:
        for problem in problems:
            print(f"{args.bundle}: {problem}")
        print(f"{args.bundle}: FAILED ({len(problems)} problem{'s' * (len(problems) != 1)})")
        return 1
    print(f"{args.bundle}: OK ({len(read_manifest(args.bundle)['files'])} files verified)")
    return 0


def cmd_eval_mesh(args: argparse.Namespace) -> int:
    import numpy as np
    import trimesh

    from lyra_sim.exporters.evaluate import EvalConfig, evaluate_mesh

    from .manifest import read_manifest, verify
    from .worlds import procedural

    bundle = Path(args.bundle)
    problems = verify(bundle)
    if problems:
        raise ValueError(f"{bundle}: the bundle does not verify ({problems[0]}); run `lyra-sim verify` for details")
    manifest = read_manifest(bundle)
    model = manifest.get("world_model") or {}
    if model.get("name") != "procedural" or "scene_spec" not in manifest:
        raise ValueError(f"{bundle}: no procedural ground truth (the bundle was not generated by the procedural world model)")
    if str(model.get("version")) != str(procedural.GENERATOR_VERSION):
        raise ValueError(
            f"{bundle}: made by procedural generator version {model.get('version')}, this is version "
            f"{procedural.GENERATOR_VERSION}; its ground truth cannot be regenerated"
        )
    if "collision.obj" not in manifest["files"]:
        raise ValueError(f"{bundle}: no collision.obj in the bundle")
    # The original condition reproduces the scene exactly: the prompt when there was one, else
    # the resolved spec (a spec condition is stored only in resolved form).
    condition = manifest["prompt"] if manifest.get("prompt") else manifest["scene_spec"]
    try:
        world = procedural.generate(condition, seed=manifest["seed"])
    except ValueError as exc:
        raise ValueError(f"{bundle}: the ground truth could not be regenerated ({exc})") from exc
    # A learned decoder draws its own Gaussians from the imagined views; only the procedural
    # world's own Gaussians can be checked for identity.
    if "decoder" not in manifest and len(world.gaussians) != manifest["num_gaussians"]:
        raise ValueError(
            f"{bundle}: the regenerated scene has {len(world.gaussians):,} Gaussians, the bundle "
            f"{manifest['num_gaussians']:,}: it is not the same scene"
        )
    mesh = trimesh.load(bundle / "collision.obj", process=False, force="mesh")
    config = EvalConfig(num_points=args.points, seed=args.eval_seed, visible_only=not args.all_surfaces)
    rooms = solids = None
    if world.plan is not None:  # a building: the free space is its rooms, the solids its objects
        from .worlds.plan_geometry import rects

        h = world.plan["height"]
        rooms = [([x0, y0, 0.0], [x1, y1, h]) for r in world.plan["rooms"] for x0, y0, x1, y1 in
                 rects(tuple(map(tuple, r["interior"])))]
        solids = [(m.vertices, m.faces) for m in world.meshes if m.kind not in ("floor", "wall", "ceiling")]
    result = evaluate_mesh(
        np.asarray(mesh.vertices), np.asarray(mesh.faces), [(m.vertices, m.faces) for m in world.meshes],
        (world.room_bounds[0], world.room_bounds[1]), config, free_boxes=rooms, solid_meshes=solids,
    )
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, sort_keys=True))
        return 0
    scope = "all ground-truth surfaces" if args.all_surfaces else (
        f"ground truth visible from the free space ({result.visible_fraction:.0%} of its area)")
    print(f"{bundle}: collision mesh vs {scope}")
    print(f"  chamfer   {result.chamfer * 100:6.2f} cm  (accuracy {result.accuracy * 100:.2f} cm, "
          f"completeness {result.completeness * 100:.2f} cm)")
    for t in config.thresholds:
        print(f"  F@{t * 100:.0f}cm    {result.fscore[t]:6.3f}     (precision {result.precision[t]:.3f}, recall {result.recall[t]:.3f})")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lyra_sim.exporters.batch import read_prompts, run_batch, summary_table
    from lyra_sim.exporters.bundle import parse_formats

    items = read_prompts(args.prompts, args.seed)
    formats = parse_formats(args.formats)
    config = _export_config(args)
    with tqdm(total=len(items), desc="bundles", unit="scene", disable=args.quiet, file=sys.stderr) as bar:
        def progress(result) -> None:
            bar.update(1)
            if result.status == "failed":
                bar.write(f"failed: {result.item.prompt}: {result.error}", file=sys.stderr)

        results = run_batch(
            items, args.out, formats, config, ray_address=args.ray_address, num_workers=args.workers, progress=progress
        )
    print(summary_table(results))
    return 1 if any(r.status == "failed" for r in results) else 0


def cmd_render(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .pipeline import ViewConfig, render_video

    with tqdm(total=args.frames, desc="rendering", unit="frame", disable=args.quiet, file=sys.stderr) as bar:
        out = render_video(
            args.scene,
            args.out,
            trajectory=args.trajectory,
            frames=args.frames,
            fps=args.fps,
            view=ViewConfig(args.width, args.height),
            device=args.device,
            progress=lambda done, total: bar.update(done - bar.n),
        )
    print(f"wrote {out}")
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return number


def _add_export_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("collision mesh and convex parts (defaults scale with the scene)")
    group.add_argument("--voxel-size", type=float, help="TSDF voxel edge in meters")
    group.add_argument("--resolution", type=_positive, help="depth view width and height in pixels")
    group.add_argument("--viewpoints", type=_positive, help="depth views: rooms get 6 x this many cube faces (chosen by surface coverage), other scenes this many cube maps")
    group.add_argument("--face-budget", type=_positive, help="faces of the collision mesh after decimation")
    group.add_argument("--convex", action="store_true", help="also decompose objects into convex parts with CoACD (slow)")
    group.add_argument("--convex-seed", type=int, default=0, help="CoACD seed")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lyra-sim", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"lyra-sim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate a scene from a text prompt (or a JSON scene spec)")
    gen.add_argument("prompt", nargs="?", help='e.g. "a kitchen with a table and two chairs"')
    gen.add_argument("--spec", help="a JSON scene spec instead of a prompt")
    gen.add_argument("--seed", type=int, default=0, help="random seed (same prompt + seed → same bytes)")
    gen.add_argument("--out", required=True, help="output directory (must not exist or be empty)")
    gen.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    gen.add_argument("--width", type=_positive, default=640, help="preview width in pixels")
    gen.add_argument("--height", type=_positive, default=480, help="preview height in pixels")
    gen.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    gen.add_argument("--export", metavar="FORMATS", help="also export an asset bundle into --out: all, or a list such as usd,mjcf")
    gen.add_argument("--decoder", metavar="CKPT", help="make the Gaussians with Lyra's 3DGS decoder from the world model's "
                     "six-trajectory video: 'default' (the shipped checkpoint) or a decoder .safetensors file")
    gen.add_argument("--device", choices=("cpu", "cuda"), help="where --decoder renders and decodes (default cpu; "
                     "the same bytes on a rerun are guaranteed on the CPU)")
    dif = gen.add_argument_group("image / text to scene with diffusers models (--world diffusers; local weights only)")
    dif.add_argument("--world", choices=("procedural", "diffusers"), default="procedural",
                     help="procedural (offline default) or diffusers: depth 3D cache + video model + --decoder (default 'default')")
    dif.add_argument("--image", metavar="FILE", help="the anchor photo (with --world diffusers)")
    dif.add_argument("--video-model", metavar="PATH", help="local diffusers video pipeline (Wan VACE for --backend vace)")
    dif.add_argument("--depth-model", metavar="PATH", help="local transformers depth-estimation model (e.g. Depth Anything V2)")
    dif.add_argument("--t2i-model", metavar="PATH", help="local diffusers text-to-image pipeline (draws the image for a PROMPT alone)")
    dif.add_argument("--backend", choices=("vace", "v2v"), default="vace", help="video pipeline: Wan VACE or Wan video-to-video")
    dif.add_argument("--steps", type=_positive, default=30, help="video model denoising steps")
    dif.add_argument("--offload", action="store_true", help="model CPU offload (CUDA; for 24-48 GB GPUs)")
    dif.add_argument("--vae-tiling", action="store_true", help="decode the video VAE in tiles (less GPU memory)")
    _add_export_options(gen)
    gen.set_defaults(func=cmd_generate)

    exp = sub.add_parser("export", help="build an asset bundle (collision mesh, USD, MJCF, URDF, GLB) from a scene")
    exp.add_argument("src", help="a scene directory from `lyra-sim generate`, or any 3DGS .ply file")
    exp.add_argument("--formats", default="usd,usdz,mjcf,urdf,glb", help="all, or a comma-separated list of: usd, usdz, mjcf, urdf, glb, obj")
    exp.add_argument("--out", required=True, help="bundle directory (must not exist or be empty)")
    exp.add_argument("--overwrite", action="store_true", help="replace an existing bundle directory")
    exp.add_argument("-q", "--quiet", action="store_true")
    _add_export_options(exp)
    exp.set_defaults(func=cmd_export)

    ver = sub.add_parser("verify", help="check a scene directory or bundle against its manifest (sha256 of every file)")
    ver.add_argument("bundle")
    ver.set_defaults(func=cmd_verify)

    ev = sub.add_parser("eval-mesh", help="score a bundle's collision mesh against the procedural ground truth")
    ev.add_argument("bundle")
    ev.add_argument("--points", type=_positive, default=200_000, help="points sampled on each surface")
    ev.add_argument("--eval-seed", type=int, default=0, help="sampling seed")
    ev.add_argument("--all-surfaces", action="store_true", help="compare with every ground-truth surface, also those no camera can see")
    ev.add_argument("--json", action="store_true", help="print the scores as JSON")
    ev.set_defaults(func=cmd_eval_mesh)

    bat = sub.add_parser("batch", help="one bundle per prompt of a file, in parallel on Ray (resumable)")
    bat.add_argument("prompts", help="text file: one prompt per line, optionally <TAB>seed; '#' comments")
    bat.add_argument("--out", required=True, help="directory that receives one bundle per prompt")
    bat.add_argument("--formats", default="all", help="as for `export`")
    bat.add_argument("--seed", type=int, default=0, help="base seed for lines without their own")
    bat.add_argument("--ray-address", help="join this Ray cluster instead of starting a local one")
    bat.add_argument("--workers", type=_positive, help="CPUs of the local Ray instance (default: all)")
    bat.add_argument("-q", "--quiet", action="store_true")
    _add_export_options(bat)
    bat.set_defaults(func=cmd_batch)

    from . import distill  # its options are the trainer's own, defined once there

    dis = sub.add_parser("distill", help="train Lyra's 3DGS decoder by self-distillation from a world model",
                         description=distill.DESCRIPTION)
    distill.add_arguments(dis)
    dis.set_defaults(func=distill.run)

    ren = sub.add_parser("render", help="render a scene directory along a camera trajectory into a video")
    ren.add_argument("scene", help="a scene directory written by `lyra-sim generate`")
    ren.add_argument("--trajectory", default="orbit", help="orbit, left, right, up, zoom_out, zoom_in or clockwise")
    ren.add_argument("--out", required=True, help="video file (.mp4 or .gif)")
    ren.add_argument("--frames", type=_positive, default=96)
    ren.add_argument("--fps", type=_positive, default=24)
    ren.add_argument("--width", type=_positive, default=640)
    ren.add_argument("--height", type=_positive, default=480)
    ren.add_argument("--device", default="cpu", help="torch device for rendering (cuda uses gsplat)")
    ren.add_argument("-q", "--quiet", action="store_true")
    ren.set_defaults(func=cmd_render)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except USER_ERRORS as exc:
        print(f"lyra-sim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lyra-sim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""Local model directories of the diffusers world model: layout checks whose errors say what to download and where.

Model weights are never fetched at run time. Every model loads from a local directory with
``local_files_only=True`` and ``use_safetensors=True`` (no pickled weights), and the directory is
checked first, so a missing or mismatched checkpoint is one line that lists the expected files,
names a Hugging Face repository to download on a machine with network access, and the option
that takes the directory. Hub repository ids ("org/name") are refused rather than resolved.

Kinds (`KINDS`): ``vace`` and ``v2v`` (diffusers Wan video pipelines), ``t2i`` (a diffusers
text-to-image pipeline), ``depth`` (a transformers depth-estimation model with its image
processor).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lyra_sim.config import read_json


class CheckpointError(FileNotFoundError):
    """A checkpoint directory is missing or does not hold the expected model (a user error: one line)."""


@dataclass(frozen=True)
class CheckpointKind:
    """What one model role expects on disk.

    Attributes:
        role: words for messages ("video model (Wan VACE)").
        option: the CLI option / keyword that takes the directory.
        repo: a Hugging Face repository that fits, to download elsewhere.
        layout: "diffusers" (a pipeline directory with ``model_index.json``) or
            "transformers" (a model directory with ``config.json``).
        classes: accepted pipeline classes (``_class_name`` of ``model_index.json``) or
            transformers ``model_type`` values; empty accepts any.
    """

    role: str
    option: str
    repo: str
    layout: str
    classes: tuple[str, ...] = ()

    def expected(self) -> str:
        """The expected files, in words."""
        if self.layout == "diffusers":
            return ("model_index.json and one subfolder per component it lists (models: config.json + "
                    "*.safetensors; tokenizer files; scheduler_config.json)")
        return "config.json, model.safetensors (or its shards + index) and preprocessor_config.json"

    def how_to_get(self) -> str:
        return (f"download {self.repo} on a machine with network access (`huggingface-cli download {self.repo} "
                f"--local-dir DIR`), copy DIR here and pass {self.option} DIR")


DEPTH_MODEL_TYPES = ("depth_anything", "prompt_depth_anything", "depth_pro", "dpt", "glpn", "zoedepth")
"""transformers ``model_type`` values of monocular depth models `AutoModelForDepthEstimation` loads."""

KINDS: dict[str, CheckpointKind] = {
    "vace": CheckpointKind("video model (Wan VACE)", "--video-model", "Wan-AI/Wan2.1-VACE-1.3B-diffusers",
                           "diffusers", ("WanVACEPipeline",)),
    "v2v": CheckpointKind("video model (Wan video-to-video)", "--video-model", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
                          "diffusers", ("WanPipeline", "WanVideoToVideoPipeline")),
    "t2i": CheckpointKind("text-to-image model", "--t2i-model", "PixArt-alpha/PixArt-XL-2-512x512", "diffusers"),
    "depth": CheckpointKind("depth model", "--depth-model", "depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf",
                            "transformers", DEPTH_MODEL_TYPES),
}

_WEIGHTS = ("*.safetensors", "*.safetensors.index.json")
_TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "vocab.json", "tokenizer_config.json")


def _has(folder: Path, patterns: tuple[str, ...]) -> bool:
    return any(next(folder.glob(p), None) is not None for p in patterns)


def _read_json(path: Path, kind: CheckpointKind) -> dict:
    try:
        return read_json(path)
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{kind.role}: {path} is not readable JSON ({err}); expected {kind.expected()}") from err


def check_checkpoint(path: str | os.PathLike | None, kind: str) -> Path:
    """Check that ``path`` holds a checkpoint of ``kind`` (see `KINDS`) and return it as a `Path`.

    Raises:
        CheckpointError: one line naming the role, what is missing or mismatched, the expected
            files, and what to download and pass where.
    """
    spec = KINDS[kind]
    if path is None:
        raise CheckpointError(f"{spec.role}: {spec.option} not given; {spec.how_to_get()}")
    folder = Path(path)
    if not folder.exists():
        hub_like = str(path).count("/") == 1 and not str(path).startswith((".", "/", "~"))
        note = " (lyra-sim loads local directories only, never a hub repository id)" if hub_like else ""
        raise CheckpointError(f"{spec.role}: {folder} does not exist{note}; expected a directory with "
                              f"{spec.expected()}; {spec.how_to_get()}")
    if not folder.is_dir():
        raise CheckpointError(f"{spec.role}: {folder} is not a directory; {spec.how_to_get()}")
    problems = _diffusers_problems(folder, spec) if spec.layout == "diffusers" else _transformers_problems(folder, spec)
    if problems:
        raise CheckpointError(f"{spec.role}: {folder} {'; '.join(problems)}; expected {spec.expected()}; "
                              f"{spec.how_to_get()}")
    return folder


def _diffusers_problems(folder: Path, spec: CheckpointKind) -> list[str]:
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        return ["has no model_index.json (not a diffusers pipeline directory)"]
    index = _read_json(index_path, spec)
    cls = index.get("_class_name")
    if spec.classes and cls not in spec.classes:
        return [f"holds a {cls} checkpoint, but this needs {' or '.join(spec.classes)}"]
    problems = []
    for name, entry in sorted(index.items()):
        if name.startswith("_") or not isinstance(entry, list) or len(entry) != 2 or entry[0] is None:
            continue  # config values and optional components left out (null)
        sub = folder / name
        if not sub.is_dir():
            problems.append(f"lacks {name}/ ({entry[1]})")
        elif "Tokenizer" in str(entry[1]):
            if not _has(sub, _TOKENIZER_FILES):
                problems.append(f"{name}/ has no tokenizer files")
        elif "Scheduler" in str(entry[1]):
            if not (sub / "scheduler_config.json").is_file():
                problems.append(f"{name}/ lacks scheduler_config.json")
        elif not (sub / "config.json").is_file():
            problems.append(f"{name}/ lacks config.json")
        elif not _has(sub, _WEIGHTS):
            pickled = _has(sub, ("*.bin", "*.pt", "*.pth", "*.ckpt"))
            problems.append(f"{name}/ has no *.safetensors weights" + (" (pickled weights are not loaded)" if pickled else ""))
    return problems


def _transformers_problems(folder: Path, spec: CheckpointKind) -> list[str]:
    if not (folder / "config.json").is_file():
        return ["has no config.json (not a transformers model directory)"]
    config = _read_json(folder / "config.json", spec)
    model_type = config.get("model_type")
    if spec.classes and model_type not in spec.classes:
        return [f"holds a {model_type!r} model, not a depth-estimation model ({', '.join(spec.classes)})"]
    problems = []
    if not _has(folder, _WEIGHTS):
        pickled = _has(folder, ("*.bin", "*.pt", "*.pth"))
        problems.append("has no *.safetensors weights" + (" (pickled weights are not loaded)" if pickled else ""))
    if not (folder / "preprocessor_config.json").is_file():
        problems.append("lacks preprocessor_config.json (the image processor)")
    return problems


def check_all(paths: dict[str, str | os.PathLike | None]) -> dict[str, Path]:
    """`check_checkpoint` for several kinds at once; one error lists every problem.

    Args:
        paths: kind → directory (None: not given).
    """
    checked, errors = {}, []
    for kind, path in paths.items():
        try:
            checked[kind] = check_checkpoint(path, kind)
        except CheckpointError as err:
            errors.append(str(err))
    if errors:
        raise CheckpointError(" | ".join(errors))
    return checked

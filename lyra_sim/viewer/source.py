"""What `lyra-sim view` shows: a bundle, a scene directory, a splat file or a dynamic scene, read and checked.

A directory must verify against its ``manifest.json`` (the sha256 of every file) before
anything is shown: a half-copied or edited bundle is an error, not a confusing picture.
Splat files are read in any format `lyra_sim.exchange` knows (INRIA or compressed PLY, SPZ, .splat).
A directory with ``scene4d/`` (a dynamic scene's Gaussians per time, `lyra_sim.dynamic`) is
shown over time; so is a ``scene4d/`` directory itself, checked against its ``index.json``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lyra_sim.dynamic import INDEX, DynamicScene, read_scene4d
from lyra_sim.exchange import read_splats
from lyra_sim.manifest import MANIFEST, read_manifest, verify
from lyra_sim.ply import read_ply
from lyra_sim.scene import GaussianScene


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh: ``vertices [V, 3]`` float32 meters, ``faces [F, 3]`` int32."""

    name: str
    vertices: np.ndarray
    faces: np.ndarray


@dataclass(frozen=True)
class ViewSource:
    """A scene to show and what came with it.

    Attributes:
        path: what the user passed.
        kind: "bundle", "scene directory", "splat file" or "scene4d directory".
        scene: the Gaussians (of a dynamic scene: at its first time).
        manifest: the directory's manifest ({} for a splat file or a bare scene4d/).
        directory: the bundle or scene directory (None for a splat file or a bare scene4d/).
        dynamic: the Gaussians over time, or None for a static scene.
    """

    path: Path
    kind: str
    scene: GaussianScene
    manifest: dict[str, Any] = field(default_factory=dict)
    directory: Path | None = None
    dynamic: DynamicScene | None = None

    def file(self, name: str) -> Path | None:
        """``directory / name`` if the directory has it."""
        if self.directory is None:
            return None
        path = self.directory / name
        return path if path.exists() else None

    @property
    def scene_sha256(self) -> str:
        """The sha256 of ``scene.ply`` as the manifest records it ("" for a splat file)."""
        return self.manifest.get("files", {}).get("scene.ply", "")

    def collision_mesh(self) -> Mesh | None:
        """``collision.obj`` of a bundle, or None."""
        path = self.file("collision.obj")
        return _read_mesh(path, "collision.obj") if path is not None else None

    def convex_pieces(self) -> list[Mesh]:
        """The convex pieces of a bundle: ``collision_static/*`` then ``collision_parts/*`` (sorted by name)."""
        pieces = []
        for folder in ("collision_static", "collision_parts"):
            root = self.file(folder)
            if root is not None:
                pieces += [_read_mesh(p, f"{folder}/{p.name}") for p in sorted(root.iterdir()) if p.is_file()]
        return pieces


def _read_mesh(path: Path, name: str) -> Mesh:
    import trimesh

    mesh = trimesh.load(path, process=False, force="mesh")
    return Mesh(name, np.asarray(mesh.vertices, np.float32), np.asarray(mesh.faces, np.int32))


def load_source(path: str | os.PathLike) -> ViewSource:
    """Read ``path`` (a bundle or scene directory that verifies, a splat file, or a ``scene4d/`` directory).

    Raises:
        FileNotFoundError: ``path`` does not exist, a directory has no manifest / scene.ply,
            or a ``scene4d/`` lacks a PLY its index lists.
        ValueError: the directory does not verify against its manifest, the file is not
            a readable splat file, or a ``scene4d/`` disagrees with its index (the message
            names what is wrong or accepted).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    if path.is_dir():
        if not (path / MANIFEST).is_file() and (path / INDEX).is_file():
            dynamic = read_scene4d(path)
            return ViewSource(path, "scene4d directory", dynamic.scenes[0], dynamic=dynamic)
        if not (path / MANIFEST).is_file():
            raise FileNotFoundError(
                f"{path}: no {MANIFEST}; expected a bundle or scene directory from lyra-sim, a scene4d/ "
                "directory, or a splat file"
            )
        problems = verify(path)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ValueError(f"{path}: does not verify against its manifest: {problems[0]}{more}; see `lyra-sim verify {path}`")
        manifest = read_manifest(path)
        if "scene.ply" not in manifest.get("files", {}):
            raise FileNotFoundError(f"{path}: the manifest lists no scene.ply")
        kind = "bundle" if manifest.get("kind") == "bundle" else "scene directory"
        if (path / "scene4d").is_dir():  # verified above: every file of it is in the manifest
            dynamic = read_scene4d(path / "scene4d")
            return ViewSource(path, kind, dynamic.scenes[0], manifest, path, dynamic)
        return ViewSource(path, kind, read_ply(path / "scene.ply"), manifest, path)
    return ViewSource(path, "splat file", read_splats(path))  # one line naming what is accepted otherwise

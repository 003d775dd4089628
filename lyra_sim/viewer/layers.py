"""Overlays on the splats, each with its own toggle: the collision mesh, its convex pieces, the
nav grid and the spawn region of a bundle.

viser draws the splats after everything else, depth-tested against what was drawn before,
so a see-through surface in front of splats would hide them. Hence:

- Collision mesh (``collision.obj``): "wireframe" (its edges over the splats) or
  "translucent" (the mesh solid, the splats faded to `FADED_OPACITY` of their opacity so it
  shows through them).
- Convex pieces (``collision_static/``, ``collision_parts/``): solid, one colour per piece.
- Nav grid (``nav.npz``): a square dot on each floor cell, green free, red blocked (the floor
  shows between the dots).
- Spawn region: the outline of the free cells at least the manifest's spawn radius from any
  obstacle, blue.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from lyra_sim.exporters.nav_grid import NavGrid, read_nav

from .source import Mesh, ViewSource
from .splats import label_palette

COLLISION_RGB = (255, 140, 0)
NAV_FREE_RGB = (40, 200, 90)
NAV_BLOCKED_RGB = (230, 50, 50)
SPAWN_RGB = (40, 110, 255)
MESH_STYLES = ("wireframe", "translucent")
FADED_OPACITY = 0.3


def nav_points(grid: NavGrid) -> tuple[np.ndarray, np.ndarray]:
    """``(points [M, 3], rgb [M, 3] uint8)``: the center of every floor cell, just above the
    floor, green if free, red if blocked."""
    floor = grid.floor == 1
    centers = grid.cell_centers()[floor]
    points = np.concatenate([centers, np.full((len(centers), 1), grid.floor_z + 0.01)], 1)
    free = (grid.occupancy == 0)[floor]
    colors = np.where(free[:, None], np.array([NAV_FREE_RGB], np.uint8), np.array([NAV_BLOCKED_RGB], np.uint8))
    return points.astype(np.float32), colors


def region_outline(grid: NavGrid, region: np.ndarray) -> np.ndarray:
    """``[K, 2, 3]`` line segments along the border of the cells where ``region [ny, nx]`` is
    True (cell edges between a region cell and a non-region one), at floor height."""
    r = np.pad(region.astype(bool), 1)
    res, (x0, y0), z = grid.resolution, grid.origin, grid.floor_z + 0.02
    segments = []
    # Horizontal edges: between rows j-1 and j (padded), where exactly one side is in the region.
    jj, ii = np.nonzero(r[1:, 1:-1] != r[:-1, 1:-1])
    y = y0 + jj * res
    segments.append(np.stack([np.stack([x0 + ii * res, y], -1), np.stack([x0 + (ii + 1) * res, y], -1)], 1))
    jj, ii = np.nonzero(r[1:-1, 1:] != r[1:-1, :-1])
    x = x0 + ii * res
    segments.append(np.stack([np.stack([x, y0 + jj * res], -1), np.stack([x, y0 + (jj + 1) * res], -1)], 1))
    flat = np.concatenate(segments)
    return np.concatenate([flat, np.full((*flat.shape[:2], 1), z)], -1).astype(np.float32)


def pieces_mesh(pieces: list[Mesh]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pieces as one mesh with a colour per piece: ``(vertices [V, 3], faces [F, 3], vertex rgb [V, 3] uint8)``."""
    palette = (label_palette(len(pieces)) * 255 + 0.5).astype(np.uint8)
    offsets = np.cumsum([0] + [len(p.vertices) for p in pieces])
    vertices = np.concatenate([p.vertices for p in pieces])
    faces = np.concatenate([p.faces + o for p, o in zip(pieces, offsets[:-1], strict=True)])
    colors = np.concatenate([np.broadcast_to(c, (len(p.vertices), 3)) for p, c in zip(pieces, palette, strict=True)])
    return vertices, faces, colors


class Layers:
    """The overlays of ``source`` in ``server``'s scene, and their controls in a GUI folder.

    Only what the source has gets a control (a splat file has none of these).

    Args:
        fade_splats: called with the factor the splats' opacities are to be scaled by (1 or
            `FADED_OPACITY`) when the translucent collision mesh is shown or hidden.
    """

    def __init__(self, server, source: ViewSource, fade_splats: Callable[[float], None]) -> None:
        self.server = server
        self.fade_splats = fade_splats
        self.controls: dict[str, object] = {}  # name -> GUI handle
        self.nodes: dict[str, object] = {}  # name -> scene node
        collision = source.collision_mesh()
        pieces = source.convex_pieces()
        nav_path = source.file("nav.npz")
        if collision is None and not pieces and nav_path is None:
            return
        with server.gui.add_folder("Collision & navigation"):
            if collision is not None:
                self._collision(collision)
            if pieces:
                self._pieces(pieces)
            if nav_path is not None:
                nav = source.manifest.get("nav") or {}
                radius = float((nav.get("spawn_region") or {}).get("radius", 0.25))
                self._nav(read_nav(nav_path), radius)

    def _collision(self, mesh: Mesh) -> None:
        scene = self.server.scene
        nodes = {
            "wireframe": scene.add_mesh_simple("/collision/wireframe", mesh.vertices, mesh.faces, color=COLLISION_RGB,
                                               wireframe=True, cast_shadow=False, receive_shadow=False, visible=False),
            "translucent": scene.add_mesh_simple("/collision/solid", mesh.vertices, mesh.faces, color=COLLISION_RGB,
                                                 side="double", flat_shading=True, cast_shadow=False, receive_shadow=False,
                                                 visible=False),
        }
        show = self.server.gui.add_checkbox("Collision mesh", False, hint=f"collision.obj: {len(mesh.faces):,} faces")
        style = self.server.gui.add_dropdown("Mesh style", MESH_STYLES, initial_value="wireframe",
                                             hint="wireframe over the splats, or the mesh solid under faded splats")
        faded = [False]

        def update(_=None) -> None:
            for name, node in nodes.items():
                node.visible = show.value and style.value == name
            fade = show.value and style.value == "translucent"
            if fade != faded[0]:
                faded[0] = fade
                self.fade_splats(FADED_OPACITY if fade else 1.0)

        show.on_update(update)
        style.on_update(update)
        self.controls.update(collision=show, collision_style=style)
        self.nodes.update({f"collision_{k}": v for k, v in nodes.items()})

    def _pieces(self, pieces: list[Mesh]) -> None:
        import trimesh

        vertices, faces, colors = pieces_mesh(pieces)
        mesh = trimesh.Trimesh(vertices, faces, vertex_colors=colors, process=False)
        node = self.server.scene.add_mesh_trimesh("/collision/pieces", mesh, cast_shadow=False, receive_shadow=False, visible=False)
        show = self.server.gui.add_checkbox("Convex pieces", False, hint=f"{len(pieces)} pieces (collision_static/, collision_parts/)")
        show.on_update(lambda _: setattr(node, "visible", show.value))
        self.controls["pieces"] = show
        self.nodes["pieces"] = node

    def _nav(self, grid: NavGrid, spawn_radius: float) -> None:
        scene = self.server.scene
        points, colors = nav_points(grid)
        spawn = (grid.occupancy == 0) & (grid.distance >= spawn_radius)
        nodes = {
            "nav": scene.add_point_cloud("/nav/grid", points, colors, point_size=0.3 * grid.resolution,
                                         point_shape="square", precision="float32", point_shading="flat", visible=False),
            "spawn": scene.add_line_segments("/nav/spawn", region_outline(grid, spawn), SPAWN_RGB,
                                             thickness=0.2 * grid.resolution, visible=False),
        }
        ny, nx = grid.occupancy.shape
        free = float((grid.occupancy == 0).sum() * grid.resolution**2)
        labels = {"nav": ("Nav grid", f"nav.npz: {nx} x {ny} cells of {grid.resolution * 100:.0f} cm, {free:.1f} m² free"),
                  "spawn": ("Spawn region", f"free cells at least {spawn_radius} m from any obstacle "
                                            f"({spawn.sum() * grid.resolution**2:.1f} m²)")}
        for key, node in nodes.items():
            label, hint = labels[key]
            box = self.server.gui.add_checkbox(label, False, hint=hint)
            box.on_update(lambda _, box=box, node=node: setattr(node, "visible", box.value))
            self.controls[key] = box
            self.nodes[key] = node

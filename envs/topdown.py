"""``render_mode="rgb_array"``: a top-down map (floor, agent, goal, path) beside the agent's view."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

FITS, NEAR, BLOCKED = (236, 236, 228), (180, 180, 172), (60, 60, 66)
PATH, GOAL, AGENT = (40, 110, 220), (220, 50, 40), (30, 160, 70)


def topdown_frame(
    clearance: np.ndarray,
    required: float,
    origin: np.ndarray,
    resolution: float,
    path: np.ndarray,
    yaw: float,
    goal: np.ndarray,
    radius: float,
    view: np.ndarray,
    size: int = 320,
) -> np.ndarray:
    """The map and the view side by side: ``[size, size_map_width + size_view_width, 3]`` uint8.

    Args:
        clearance: ``[ny, nx]`` meters to the nearest obstacle per cell; cells with at least
            ``required`` are where the agent's center may be (light), other free cells mid
            gray, obstacles dark. Row 0 is the lowest y, drawn at the bottom (x right, y up).
        origin, resolution: the grid's lower corner (x, y) and cell size, meters.
        path: ``[T, 2]`` the agent's positions so far (the last is the current one).
        yaw: current heading, radians; goal: ``[2]``; radius: the agent's radius, meters.
        view: ``[H, W, 3]`` uint8 agent observation, scaled to the map's height.
    """
    ny, nx = clearance.shape
    colors = np.where((clearance >= required)[..., None], FITS, np.where((clearance > 0)[..., None], NEAR, BLOCKED))
    scale = size / max(nx, ny)
    mw, mh = max(1, round(nx * scale)), max(1, round(ny * scale))
    img = Image.fromarray(colors[::-1].astype(np.uint8)).resize((mw, mh), Image.NEAREST)
    draw = ImageDraw.Draw(img)

    def px(p: np.ndarray) -> tuple[float, float]:
        u = (p - origin) / resolution * scale
        return float(u[0]), float(mh - u[1])

    if len(path) > 1:
        draw.line([px(p) for p in path], fill=PATH, width=2)
    r = max(2.0, radius / resolution * scale)
    gx, gy = px(goal)
    draw.ellipse([gx - r, gy - r, gx + r, gy + r], fill=GOAL)
    ax, ay = px(path[-1])
    draw.ellipse([ax - r, ay - r, ax + r, ay + r], outline=AGENT, width=2)
    draw.line([(ax, ay), (ax + 2 * r * math.cos(yaw), ay - 2 * r * math.sin(yaw))], fill=AGENT, width=2)

    h, w = view.shape[:2]
    vw = max(1, round(w * mh / h))
    side = Image.fromarray(view).resize((vw, mh), Image.NEAREST)
    canvas = Image.new("RGB", (mw + vw, mh))
    canvas.paste(img, (0, 0))
    canvas.paste(side, (mw, 0))
    return np.asarray(canvas)

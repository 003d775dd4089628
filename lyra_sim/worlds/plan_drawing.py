"""A labelled top-down floor plan of a building, drawn from its plan (``floorplan.png``).

Drawn from the floor plan rather than rendered from the Gaussians: it is exact (walls,
doorways, door leaves, windows and furniture footprints where the world model put them),
legible (room names and areas never sit under clutter) and costs milliseconds, where a
top-down render of a million Gaussians takes seconds on a CPU and says less; ``preview.png``
already shows the Gaussians. Deterministic: the same plan gives the same bytes.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lyra_sim.worlds import plan_geometry as pg
from lyra_sim.worlds.floorplan import LEAF_THICKNESS, doorway_side, opening_geometry

ROOM_FILLS = {
    "living_room": (250, 236, 200), "kitchen": (222, 240, 214), "dining_room": (246, 224, 206),
    "bedroom": (220, 228, 246), "bathroom": (208, 238, 240), "hallway": (236, 236, 236),
    "corridor": (236, 236, 236), "office": (232, 224, 244), "meeting_room": (244, 222, 232),
}
DEFAULT_FILL = (240, 240, 232)
WALL = (40, 40, 44)
FURNITURE = (150, 150, 156)
WINDOW = (90, 160, 220)
DOOR = (150, 100, 60)
SKIP_KINDS = ("door", "window", "painting", "whiteboard", "mirror")  # drawn as openings, or flat on walls


def _font(size: int):
    return ImageFont.load_default(size=size)


def draw_floor_plan(plan: dict, objects: list[dict], max_size: int = 1100) -> Image.Image:
    """The plan (`lyra_sim.worlds.house.plan_summary`) and object footprints as an RGB image.

    Args:
        plan: the building's plan summary.
        objects: the scene's objects (``kind``, ``position``, ``yaw_deg``, ``size``).
        max_size: longest image side, pixels.
    """
    cells = [tuple(map(tuple, r["polygon"])) for r in plan["rooms"]]
    t = plan["wall_thickness"]
    x0 = min(p[0] for c in cells for p in c) - t
    y0 = min(p[1] for c in cells for p in c) - t
    x1 = max(p[0] for c in cells for p in c) + t
    y1 = max(p[1] for c in cells for p in c) + t
    margin, header, footer = 30, 36, 40
    scale = min((max_size - 2 * margin) / (x1 - x0), (max_size - 2 * margin) / (y1 - y0), 120.0)
    width = int(math.ceil((x1 - x0) * scale)) + 2 * margin
    height = int(math.ceil((y1 - y0) * scale)) + 2 * margin + header + footer
    img = Image.new("RGB", (width, height), (255, 255, 255))
    d = ImageDraw.Draw(img)

    def px(x, y):
        return (margin + (x - x0) * scale, margin + header + (y1 - y) * scale)

    def rect(r, **kw):
        a, b = px(r[0], r[3]), px(r[2], r[1])
        d.rectangle([a[0], a[1], b[0], b[1]], **kw)

    for room, cell in zip(plan["rooms"], cells):  # walls: each cell dark, then its interior in its color
        for r in pg.rects(cell):
            rect(r, fill=WALL)
    for room in plan["rooms"]:
        fill = ROOM_FILLS.get(room["type"], DEFAULT_FILL)
        for r in pg.rects(tuple(map(tuple, room["interior"]))):
            rect(r, fill=fill)
    for k, cell in enumerate(cells):  # the outer half of exterior walls
        for seg, normal in pg.exterior_segments(cells, k):
            c0, c1 = sorted((seg.c, seg.c + normal * t / 2))
            r = (seg.a - t / 2, c0, seg.b + t / 2, c1) if seg.axis == 0 else (c0, seg.a - t / 2, c1, seg.b + t / 2)
            rect(r, fill=WALL)
    by_name = {r["name"]: i for i, r in enumerate(plan["rooms"])}
    for o in objects:
        if o["kind"] not in SKIP_KINDS:
            fill = (205, 205, 210) if o["kind"] == "rug" else FURNITURE
            d.polygon([px(*c) for c in _footprint(o)], fill=fill, outline=(90, 90, 96))
    for dw in plan["doorways"]:  # openings in the room's floor color, door leaves where they stand
        i, j = by_name[dw["rooms"][0]], by_name[dw["rooms"][1]]
        seg, into = doorway_side(cells, i, j, tuple(dw["center"]), dw["width"])
        rect(_span(seg, dw["center"], dw["width"], t / 2 + 1e-3), fill=ROOM_FILLS.get(plan["rooms"][i]["type"], DEFAULT_FILL))
        if dw["door"] == "open":
            rect(opening_geometry(seg, tuple(dw["center"]), dw["width"], into, t)[1], fill=DOOR)
        elif dw["door"] == "closed":
            rect(_span(seg, dw["center"], dw["width"], LEAF_THICKNESS / 2), fill=DOOR)
    front = plan["entrance"]
    for w in plan["windows"] + [dict(front, entrance=True)]:
        k = by_name[w["room"]]
        seg = next(s for s, _ in pg.exterior_segments(cells, k) if s.holds(tuple(w["center"]), w["width"] / 2))
        rect(_span(seg, w["center"], w["width"], t / 2 + 1e-3), fill=DOOR if w.get("entrance") else WINDOW)
    label = _font(max(11, min(18, int(scale * 0.28))))
    small = _font(max(10, min(14, int(scale * 0.22))))
    for room in plan["rooms"]:  # names at the center of the largest interior rectangle
        r = max(pg.rects(tuple(map(tuple, room["interior"]))), key=lambda r: (r[2] - r[0]) * (r[3] - r[1]))
        cx, cy = px((r[0] + r[2]) / 2, (r[1] + r[3]) / 2)
        name = room["name"].replace("_", " ")
        area = f"{room['area_m2']:.1f} m2"  # the bundled font has no superscript two
        for text, font, dy in ((name, label, -9), (area, small, 9)):
            d.text((cx, cy + dy), text, fill=(20, 20, 20), font=font, anchor="mm", stroke_width=3,
                   stroke_fill=(255, 255, 255))
    front_xy = px(*front["center"])
    d.text((front_xy[0], front_xy[1]), "entrance", fill=DOOR, font=small, anchor="mm", stroke_width=3,
           stroke_fill=(255, 255, 255))
    title = f"{plan['type']}: {len(plan['rooms'])} rooms, {plan['area_m2']:.1f} m2, ceiling {plan['height']:.2f} m"
    d.text((margin, margin / 2 + 4), title, fill=(20, 20, 20), font=_font(16))
    bar_y = height - footer / 2 - 4
    d.line([(margin, bar_y), (margin + scale, bar_y)], fill=(20, 20, 20), width=3)  # 1 m scale bar
    d.text((margin + scale + 8, bar_y), "1 m", fill=(20, 20, 20), font=small, anchor="lm")
    legend = [("window", WINDOW), ("door / entrance", DOOR), ("furniture", FURNITURE)]
    x = margin + scale + 60
    for text, color in legend:
        d.rectangle([x, bar_y - 6, x + 14, bar_y + 6], fill=color)
        d.text((x + 20, bar_y), text, fill=(20, 20, 20), font=small, anchor="lm")
        x += 40 + d.textlength(text, font=small)
    return img


def _span(seg: pg.Segment, center, width: float, half: float) -> pg.Rect:
    c = seg.along(tuple(center))
    a, b = c - width / 2, c + width / 2
    return (a, seg.c - half, b, seg.c + half) if seg.axis == 0 else (seg.c - half, a, seg.c + half, b)


def _footprint(o: dict) -> np.ndarray:
    w, dpt = o["size"][0], o["size"][1]
    yaw = math.radians(o["yaw_deg"])
    c, s = math.cos(yaw), math.sin(yaw)
    local = np.array([[-w / 2, -dpt / 2], [w / 2, -dpt / 2], [w / 2, dpt / 2], [-w / 2, dpt / 2]])
    return local @ np.array([[c, s], [-s, c]]) + np.array(o["position"][:2])

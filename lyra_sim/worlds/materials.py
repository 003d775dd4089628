"""Named colors and procedural materials: surface position → albedo.

A material is a function of where a sample lies, so texture detail survives any sampling
density: wood grain follows a part's long axis, floors get planks or tiles in world
coordinates, metal is brushed along its grain axis, and so on. Every texture is a pure
function of its inputs and a seeded `Noise` table (no global state, no wall clock).

Texture coordinates ``q`` are meters in a per-part frame whose first axis is the grain
(the longest dimension of a board; the axis of a cylinder).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np

COLORS: Mapping[str, tuple[float, float, float]] = MappingProxyType({
    "white": (0.92, 0.92, 0.90),
    "black": (0.08, 0.08, 0.09),
    "gray": (0.50, 0.50, 0.52),
    "grey": (0.50, 0.50, 0.52),
    "light gray": (0.72, 0.72, 0.72),
    "dark gray": (0.25, 0.25, 0.27),
    "silver": (0.75, 0.76, 0.78),
    "red": (0.75, 0.12, 0.10),
    "dark red": (0.45, 0.07, 0.07),
    "orange": (0.92, 0.48, 0.12),
    "yellow": (0.93, 0.80, 0.20),
    "gold": (0.80, 0.64, 0.25),
    "green": (0.20, 0.55, 0.22),
    "dark green": (0.10, 0.30, 0.14),
    "olive": (0.45, 0.47, 0.20),
    "teal": (0.10, 0.50, 0.50),
    "cyan": (0.20, 0.70, 0.80),
    "blue": (0.15, 0.30, 0.75),
    "light blue": (0.55, 0.72, 0.90),
    "navy": (0.10, 0.14, 0.35),
    "purple": (0.45, 0.20, 0.60),
    "pink": (0.92, 0.55, 0.65),
    "brown": (0.42, 0.27, 0.15),
    "beige": (0.85, 0.78, 0.64),
    "cream": (0.93, 0.89, 0.78),
    "tan": (0.78, 0.64, 0.46),
    "oak": (0.70, 0.52, 0.32),
    "walnut": (0.40, 0.26, 0.16),
    "pine": (0.82, 0.68, 0.46),
    "cherry": (0.56, 0.27, 0.18),
    "terracotta": (0.72, 0.38, 0.24),
    "steel": (0.62, 0.64, 0.66),
})
"""Color names accepted in prompts and specs → sRGB in [0, 1] (specs also take ``[r, g, b]``)."""


def color_rgb(color) -> np.ndarray:
    """A color name from `COLORS` or an ``[r, g, b]`` triple → ``[3]`` float64."""
    if isinstance(color, str):
        return np.asarray(COLORS[color], dtype=np.float64)
    return np.asarray(color, dtype=np.float64)


class Noise:
    """Seeded 3D value noise on a hashed integer lattice (smoothstep-interpolated, in [0, 1]).

    The lattice hash is integer arithmetic on the cell coordinates, so results do not
    depend on Python's string hashing or on evaluation order.
    """

    _SIZE = 1 << 16

    def __init__(self, rng: np.random.Generator):
        self.table = rng.random(self._SIZE).astype(np.float32)

    def value(self, p: np.ndarray) -> np.ndarray:
        """``p [N, 3]`` (lattice units) → ``[N]`` float32 in [0, 1]."""
        p = np.asarray(p, dtype=np.float64)
        cell = np.floor(p)
        f = (p - cell).astype(np.float32)
        w = f * f * (3 - 2 * f)
        i = cell.astype(np.int64)
        hx = (i[:, 0] * 73856093, (i[:, 0] + 1) * 73856093)
        hy = (i[:, 1] * 19349663, (i[:, 1] + 1) * 19349663)
        hz = (i[:, 2] * 83492791, (i[:, 2] + 1) * 83492791)
        mask = self._SIZE - 1
        t = self.table

        def corner(a, b, c):
            return t[(hx[a] ^ hy[b] ^ hz[c]) & mask]

        x0 = corner(0, 0, 0) + w[:, 0] * (corner(1, 0, 0) - corner(0, 0, 0))
        x1 = corner(0, 1, 0) + w[:, 0] * (corner(1, 1, 0) - corner(0, 1, 0))
        x2 = corner(0, 0, 1) + w[:, 0] * (corner(1, 0, 1) - corner(0, 0, 1))
        x3 = corner(0, 1, 1) + w[:, 0] * (corner(1, 1, 1) - corner(0, 1, 1))
        y0 = x0 + w[:, 1] * (x1 - x0)
        y1 = x2 + w[:, 1] * (x3 - x2)
        return y0 + w[:, 2] * (y1 - y0)

    def fbm(self, p: np.ndarray, octaves: int = 3) -> np.ndarray:
        """Fractal sum of `value` octaves (frequency ×2, amplitude ×½), normalized to [0, 1]."""
        total = np.zeros(len(p), dtype=np.float32)
        amp, norm = 1.0, 0.0
        for o in range(octaves):
            total += amp * self.value(p * (2.0**o) + 17.0 * o)
            norm += amp
            amp *= 0.5
        return total / norm


def cell_random(ids: np.ndarray, salt: int) -> np.ndarray:
    """Deterministic pseudo-random values in [0, 1) for integer cell ids ``[N, k]`` (e.g. plank, tile)."""
    h = np.full(len(ids), (salt * 2654435761) & 0xFFFFFFFF, dtype=np.uint64)
    for col in np.asarray(ids, dtype=np.int64).reshape(len(ids), -1).T:
        h = (h ^ (col.astype(np.uint64) & np.uint64(0xFFFFFFFF))) * np.uint64(0x9E3779B1)
        h = (h ^ (h >> np.uint64(15))) & np.uint64(0xFFFFFFFF)
    return (h & np.uint64(0xFFFFFF)).astype(np.float64) / float(1 << 24)


@dataclass(frozen=True)
class TextureInput:
    """What a texture sees for N samples.

    Attributes:
        q: ``[N, 3]`` part texture coordinates in meters (axis 0 = grain).
        p: ``[N, 3]`` world positions.
        n: ``[N, 3]`` world unit normals.
        base: ``[N, 3]`` base albedo from the part's color.
        key: ``[N]`` per-part random value in [0, 1) (varies boards, books, tiles).
        noise: the scene's seeded noise.
    """

    q: np.ndarray
    p: np.ndarray
    n: np.ndarray
    base: np.ndarray
    key: np.ndarray
    noise: Noise


def _mul(base: np.ndarray, factor: np.ndarray) -> np.ndarray:
    return base * np.asarray(factor, dtype=np.float64)[:, None]


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)[:, None]
    return a * (1 - t) + b * t


def _grain(x: TextureInput, rings_per_m: float = 28.0) -> np.ndarray:
    """Wood grain in [0, 1]: growth rings around an axis parallel to the grain, wobbled by noise."""
    q = x.q
    off = 0.15 + 0.4 * x.key  # ring center sits off the board, like a plank cut from a log
    r = np.hypot(q[:, 1] + off, q[:, 2] + 0.7 * off)
    wobble = x.noise.value(q * np.array([1.2, 6.0, 6.0]) + 31.0 * x.key[:, None])
    t = (r * rings_per_m + 2.0 * wobble) % 1.0
    return np.clip(np.abs(t - 0.5) * 2, 0, 1) ** 3


def wood(x: TextureInput) -> np.ndarray:
    tone = 0.92 + 0.16 * x.key  # boards of one piece differ a little
    fine = x.noise.value(x.q * np.array([3.0, 90.0, 90.0]))
    return _mul(x.base, tone * (0.80 + 0.16 * (1 - _grain(x)) + 0.06 * fine))


def planks(x: TextureInput) -> np.ndarray:
    """Floorboards in world xy: 0.18 m wide rows, 1.2 m boards, staggered, with dark seams."""
    width, length = 0.18, 1.2
    row = np.floor(x.p[:, 1] / width)
    shift = cell_random(row[:, None], 3) * length
    col = np.floor((x.p[:, 0] + shift) / length)
    ids = np.stack([row, col], -1)
    tone = 0.84 + 0.28 * cell_random(ids, 5)
    u = (x.p[:, 0] + shift) % length
    v = x.p[:, 1] % width
    seam = np.minimum(np.minimum(u, length - u) / 0.012, np.minimum(v, width - v) / 0.008)
    seam = 0.55 + 0.45 * np.clip(seam, 0, 1)
    qq = np.stack([x.p[:, 0], v, x.p[:, 2]], -1)
    grain = _grain(TextureInput(qq, x.p, x.n, x.base, cell_random(ids, 7), x.noise), 22.0)
    return _mul(x.base, tone * seam * (0.84 + 0.16 * (1 - grain)))


def _grout(coord: np.ndarray, size: float, line: float) -> tuple[np.ndarray, np.ndarray]:
    """Tile cell ids and a [0, 1] mask that is 1 on the grout lines, for coordinates ``[N, 2]``."""
    cell = np.floor(coord / size)
    frac = coord / size - cell
    d = np.minimum(frac, 1 - frac).min(-1) * size
    return cell, (d < line / 2).astype(np.float64)


def _plane_coords(x: TextureInput) -> np.ndarray:
    """2D world coordinates in the plane the sample faces (xy for floors, the wall's axes otherwise)."""
    n = np.abs(x.n)
    use_xy = n[:, 2] >= np.maximum(n[:, 0], n[:, 1])
    use_yz = ~use_xy & (n[:, 0] >= n[:, 1])
    return np.where(
        use_xy[:, None], x.p[:, [0, 1]], np.where(use_yz[:, None], x.p[:, [1, 2]], x.p[:, [0, 2]])
    )


def tiles(x: TextureInput) -> np.ndarray:
    """0.4 m ceramic tiles with light grout and a slight per-tile tone."""
    cell, line = _grout(_plane_coords(x), 0.4, 0.008)
    tone = 0.93 + 0.1 * cell_random(cell, 11) + 0.04 * x.noise.value(x.p * 8.0)
    tiled = _mul(x.base, tone)
    return _mix(tiled, np.full_like(tiled, 0.78), 0.85 * line)


def marble(x: TextureInput) -> np.ndarray:
    """White-ish stone with dark, turbulent veins."""
    q = x.q + 5.0 * x.key[:, None]
    turb = x.noise.fbm(q * 2.5, 3)
    v = np.abs(np.sin((q[:, 0] + 0.6 * q[:, 1] + 0.3 * q[:, 2]) * 4.0 + 9.0 * turb))
    vein = (1 - v) ** 10
    cloud = 0.94 + 0.06 * x.noise.value(q * 6.0)
    return _mul(x.base, cloud * (1 - 0.45 * vein))


def marble_tiles(x: TextureInput) -> np.ndarray:
    cell, line = _grout(_plane_coords(x), 0.6, 0.005)
    stone = marble(TextureInput(x.q, x.p, x.n, x.base, cell_random(cell, 13), x.noise))
    return _mix(stone, np.full_like(stone, 0.55), 0.8 * line)


def fabric(x: TextureInput) -> np.ndarray:
    """Woven cloth: a coarse cross weave and soft mottling (finer detail would alias at 2 cm samples)."""
    a = np.sin(x.p @ np.array([1.0, 0.3, 0.7]) * 2 * np.pi / 0.05)
    b = np.sin(x.p @ np.array([-0.3, 1.0, 0.6]) * 2 * np.pi / 0.05)
    weave = 0.5 + 0.25 * (a * b)
    mottle = x.noise.fbm(x.p * 5.0, 2)
    return _mul(x.base, 0.86 + 0.10 * weave + 0.12 * (mottle - 0.5))


def carpet(x: TextureInput) -> np.ndarray:
    """Pile carpet: per-sample speckle over a soft low-frequency variation."""
    speckle = x.noise.value(x.p * 97.0)
    low = x.noise.value(x.p * 1.5)
    return _mul(x.base, 0.80 + 0.22 * speckle + 0.08 * low)


def metal(x: TextureInput) -> np.ndarray:
    """Brushed metal: streaks along the grain axis, and a mild sheen on up-facing faces."""
    streak = x.noise.value(x.q * np.array([0.8, 70.0, 70.0]))
    sheen = 0.06 * np.clip(x.n[:, 2], 0, 1)
    return _mul(x.base, 0.86 + 0.16 * streak) + sheen[:, None]


def plaster(x: TextureInput) -> np.ndarray:
    """Painted plaster: faint large blotches and a fine trowel texture."""
    return _mul(x.base, 0.95 + 0.06 * x.noise.fbm(x.p * 2.0, 2) + 0.025 * x.noise.value(x.p * 45.0))


def plastic(x: TextureInput) -> np.ndarray:
    return _mul(x.base, 0.96 + 0.05 * x.noise.value(x.p * 20.0))


def glass(x: TextureInput) -> np.ndarray:
    """Tinted glass: pale, with a diagonal reflection band."""
    band = 0.5 + 0.5 * np.sin((x.p[:, 0] + x.p[:, 1] + 1.4 * x.p[:, 2]) * 3.0)
    pale = x.base * 0.35 + 0.55
    return pale + 0.10 * band[:, None]


def leather(x: TextureInput) -> np.ndarray:
    grain = x.noise.value(x.p * 60.0)
    return _mul(x.base, 0.82 + 0.16 * grain + 0.08 * x.noise.value(x.p * 4.0))


def concrete(x: TextureInput) -> np.ndarray:
    """Concrete: large stains and fine aggregate speckle."""
    stains = x.noise.fbm(x.p * 0.6, 3)
    speckle = x.noise.value(x.p * 55.0)
    return _mul(x.base, 0.78 + 0.26 * stains + 0.10 * speckle)


def stone(x: TextureInput) -> np.ndarray:
    return _mul(x.base, 0.70 + 0.35 * x.noise.fbm(x.p * 4.0, 3))


def cardboard(x: TextureInput) -> np.ndarray:
    fibers = x.noise.value(x.q * np.array([2.0, 40.0, 40.0]))
    return _mul(x.base, (0.90 + 0.12 * x.key) * (0.92 + 0.10 * fibers))


def ceramic(x: TextureInput) -> np.ndarray:
    return _mul(x.base, 0.97 + 0.04 * x.noise.value(x.p * 12.0)) + 0.04 * np.clip(x.n[:, 2:3], 0, 1)


def rubber(x: TextureInput) -> np.ndarray:
    return _mul(x.base, 0.9 + 0.1 * x.noise.value(x.p * 30.0))


def screen(x: TextureInput) -> np.ndarray:
    """A switched-off display: near black with a soft diagonal reflection."""
    glow = np.clip(np.sin((x.p[:, 0] - x.p[:, 1] + 2.0 * x.p[:, 2]) * 2.0), 0, 1)
    return _mul(x.base, 0.9 + 0.6 * glow)


def foliage(x: TextureInput) -> np.ndarray:
    """Leaves: blotchy greens with lighter tips."""
    leaf = x.noise.value(x.p * 28.0)
    hue = x.noise.value(x.p * 6.0 + 3.0)
    tint = np.stack([0.8 + 0.4 * hue, 0.85 + 0.3 * leaf, 0.8 + 0.2 * hue], -1)
    return x.base * tint * (0.65 + 0.5 * leaf)[:, None]


def soil(x: TextureInput) -> np.ndarray:
    return _mul(x.base, 0.7 + 0.5 * x.noise.value(x.p * 70.0))


def canvas(x: TextureInput) -> np.ndarray:
    """An abstract painting: three seeded color fields with soft borders."""
    palette = np.array([[0.85, 0.35, 0.2], [0.2, 0.4, 0.7], [0.95, 0.8, 0.35], [0.3, 0.55, 0.35], [0.9, 0.9, 0.85]])
    pick = (np.floor(x.key * 97) % len(palette)).astype(int)
    a, b, c = palette[pick], palette[(pick + 1) % len(palette)], palette[(pick + 3) % len(palette)]
    f = x.noise.fbm(x.q * 3.0 + 11.0 * x.key[:, None], 3)
    out = _mix(a, b, np.clip((f - 0.35) * 5, 0, 1))
    return _mix(out, c, np.clip((f - 0.6) * 6, 0, 1))


def sky(x: TextureInput) -> np.ndarray:
    """What a window shows: pale sky fading to a band of distant trees at the sill."""
    t = np.clip((x.q[:, 2] + 0.5) / 1.0, 0, 1)  # q axis 2 is the pane's height axis
    top = np.array([0.55, 0.72, 0.93])
    horizon = np.array([0.86, 0.90, 0.94])
    trees = np.array([0.30, 0.42, 0.28])
    out = _mix(np.broadcast_to(horizon, x.p.shape), np.broadcast_to(top, x.p.shape), t)
    tree_line = 0.15 + 0.1 * x.noise.value(x.p * np.array([4.0, 4.0, 0.0]))
    return _mix(out, np.broadcast_to(trees, x.p.shape), (t < tree_line).astype(np.float64) * 0.9)


@dataclass(frozen=True)
class Material:
    """A procedural material.

    Attributes:
        texture: ``TextureInput → [N, 3]`` albedo (may leave [0, 1]; clamped after lighting).
        colors: palette for an object made of this material when no color is given ("a
            marble table" is white-ish stone, not the table's usual wood tones).
        floor_texture: what the material looks like as a room floor (wood → planks).
        public: accepted in specs and prompts (internal ones: screen, foliage, ...).
    """

    texture: Callable[[TextureInput], np.ndarray]
    colors: tuple[str, ...] = ()
    floor_texture: str | None = None
    public: bool = True


MATERIALS: Mapping[str, Material] = MappingProxyType({
    "wood": Material(wood, ("oak", "walnut", "pine", "cherry"), floor_texture="planks"),
    "metal": Material(metal, ("steel", "silver", "dark gray", "black")),
    "marble": Material(marble, ("white", "light gray", "cream", "black"), floor_texture="marble_tiles"),
    "fabric": Material(fabric, ("gray", "navy", "beige", "dark green", "brown", "teal", "dark red")),
    "leather": Material(leather, ("brown", "black", "tan", "dark red")),
    "plastic": Material(plastic, ("white", "black", "gray", "red", "blue", "yellow")),
    "glass": Material(glass, ("light blue", "white", "teal")),
    "concrete": Material(concrete, ("gray", "light gray")),
    "stone": Material(stone, ("gray", "beige", "dark gray")),
    "carpet": Material(carpet, ("beige", "gray", "dark red", "navy")),
    "tile": Material(tiles, ("white", "light gray", "beige")),
    "plaster": Material(plaster, ("white", "cream", "beige")),
    "cardboard": Material(cardboard, ("tan",)),
    "ceramic": Material(ceramic, ("white", "terracotta", "light blue")),
    "rubber": Material(rubber, ("black", "dark gray")),
    "planks": Material(planks, public=False),
    "marble_tiles": Material(marble_tiles, public=False),
    "screen": Material(screen, public=False),
    "foliage": Material(foliage, public=False),
    "soil": Material(soil, public=False),
    "canvas": Material(canvas, public=False),
    "sky": Material(sky, public=False),
})
"""Material name → `Material`. Only ``public`` names are accepted in specs."""

PUBLIC_MATERIALS: tuple[str, ...] = tuple(name for name, m in MATERIALS.items() if m.public)


def floor_texture(material: str) -> str:
    """The texture a material uses when it covers a room floor."""
    return MATERIALS[material].floor_texture or material


def shade_materials(names: list[str], material_index: np.ndarray, x: TextureInput) -> np.ndarray:
    """Albedo ``[N, 3]`` for samples whose material is ``names[material_index[i]]``."""
    out = np.empty_like(x.base)
    for m, name in enumerate(names):
        sel = np.nonzero(material_index == m)[0]
        if len(sel) == 0:
            continue
        sub = TextureInput(x.q[sel], x.p[sel], x.n[sel], x.base[sel], x.key[sel], x.noise)
        out[sel] = MATERIALS[name].texture(sub)
    return out

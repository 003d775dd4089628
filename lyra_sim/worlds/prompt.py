"""Prompt → `SceneSpec`: a small, predictable grammar over a fixed vocabulary.

The grammar: modifiers (counts, colors, materials, sizes) bind to the next noun (an
object, the room, or a room surface: floor / walls / ceiling); ``on`` between an object
and another makes the first rest on the second ("a monitor on a desk"). Everything
else is either grammar (stop words) or returned as *unknown*, never dropped silently.

- counts: digits or words (``two``, ``a dozen``, ``a couple of``); a plural without a
  count (``chairs``, ``several boxes``) becomes a seeded small number at generation.
- colors (``red``, ``light blue``, ``walnut``...) and materials (``wooden``, ``metal``,
  ``marble``...); wood tones set both (``oak`` = oak-colored wood).
- sizes: ``small``/``large``... scale the next object or room.
- furnishing: ``empty`` / ``bare`` / ``unfurnished`` before the room noun leave out the room type's
  default furniture ("an empty kitchen": walls, floor and ceiling only; named objects still come);
  ``furnished`` adds it beside named objects ("a furnished bedroom with a desk"). Before anything
  but a room (or a building) the word is reported as not understood.
- a color before the room noun paints the walls; a material before it covers the floor.
- no room noun: the room type is inferred from the objects (a bed → bedroom), else plain.
- motions (`lyra_sim.worlds.motion`): a motion word (``walking``, ``rolling``, ``swinging``,
  ``bouncing``, ``spinning``, ``sliding``...) right after an object it can move binds to it ("a
  person walking", "a door swinging"); otherwise it binds to the next object ("a rolling cart", "a
  spinning fan"). ``drawer`` names the drawer of the last dresser, cabinet, nightstand, TV stand or
  desk, or brings a dresser ("a drawer sliding"). A robot vacuum drives unless told otherwise. A
  motion word that cannot move its object ("a spinning table") is an error; an unknown verb is
  reported as unknown. A motion names the instances of its noun ("two rolling carts": ``cart_0``,
  ``cart_1``), or the kind (all its instances) when a seeded count ("carts") leaves them unknown.

Errors (``ValueError``): empty prompt, nothing recognizable, two room types, a number that is
no count ("-3 chairs", "1.5 chairs"), counts over the caps of `lyra_sim.worlds.spec`.

Words in any script are kept whole: "café" is reported as not understood, never cut to "caf".

Buildings: a prompt naming a building (``house``, ``apartment``, ``office floor``... see
`lyra_sim.worlds.rooms.BUILDING_KINDS`) parses to a `BuildingSpec`
(`lyra_sim.worlds.building_prompt`, the same lexicon and modifiers):

- rooms named after the building noun are its program ("a house with a kitchen, a living
  room, a bathroom and two bedrooms"); rooms named before it adjust the building type's
  default program ("a two-bedroom apartment": the default apartment, with two bedrooms);
  no rooms: the default program. ``N rooms`` ("a 5-room house") asks for N rooms in all,
  filled from the type's default program.
- objects belong to the room named last before them ("a kitchen with a red fridge"); objects
  named before any room go to a room whose type typically has them.
- a floor area in square meters or feet ("80 m2", "80 m²", "900 sq ft") sets the
  building's area; size words before the building noun scale it, before a room its area.
- inside a building, "dining room" is a dining room and "hallway" / "hall" a hallway (alone,
  they keep meaning a kitchen and a corridor, as before buildings existed).

Caps (rooms, area) are checked here, before anything is built: "a house with 30 rooms" and
"a 2 m² house with a bathroom and a kitchen" are errors that name the limit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Callable

from lyra_sim.worlds.materials import COLORS
from lyra_sim.worlds.motion import DRAWER_HOSTS, JOINT_NOUNS, MOTION_KINDS, MOTION_WORDS, MotionSpec, motion_for
from lyra_sim.worlds.objects import OBJECT_KINDS
from lyra_sim.worlds.rooms import BUILDING_KINDS, ROOM_KINDS
from lyra_sim.worlds.spec import ObjectSpec, RoomSpec, SceneSpec, SurfaceSpec

STOP_WORDS = frozenset(
    "a an the with and some in of on at to for there is are it its has have having plus containing featuring "
    "inside near next by beside against along around under top also this that which filled full each "
    "contains include includes including made atop onto into upon or as be".split()
)
"""Grammar words: understood, carry no content (``on`` and ``atop`` also link a stacked object)."""

NUMBERS = {
    **{w: i for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split())},
    "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "dozen": 12, "couple": 2, "pair": 2,
    "single": 1, "double": 2,
}
QUANTIFIERS = frozenset("several few many multiple lots numerous various".split())
"""Words meaning "a seeded small number of"."""

MATERIAL_WORDS = {
    **{w: "wood" for w in ("wood", "wooden", "timber")},
    **{w: "metal" for w in ("metal", "metallic", "iron", "aluminum", "aluminium", "chrome")},
    **{w: "marble" for w in ("marble", "marbled")},
    **{w: "fabric" for w in ("fabric", "cloth", "upholstered", "velvet", "linen", "cotton", "wool", "woolen")},
    **{w: "plastic" for w in ("plastic",)},
    **{w: "glass" for w in ("glass", "glazed")},
    **{w: "leather" for w in ("leather",)},
    **{w: "concrete" for w in ("concrete", "cement")},
    **{w: "stone" for w in ("stone", "granite", "slate")},
    **{w: "carpet" for w in ("carpeted",)},
    **{w: "tile" for w in ("tile", "tiled")},
    **{w: "ceramic" for w in ("ceramic", "porcelain")},
    **{w: "plaster" for w in ("plaster", "painted")},
    **{w: "cardboard" for w in ("cardboard",)},
    **{w: "rubber" for w in ("rubber",)},
}
TONE_WORDS = {"oak": "wood", "walnut": "wood", "pine": "wood", "cherry": "wood", "steel": "metal", "gold": "metal"}
"""Color names that also imply a material (an oak table is oak-colored wood)."""
COLOR_SYNONYMS = {"golden": "gold", "crimson": "dark red", "violet": "purple", "ivory": "cream", "khaki": "tan",
                  "turquoise": "teal", "grey": "gray", "light grey": "light gray", "dark grey": "dark gray"}
SIZE_WORDS = {"tiny": 0.7, "small": 0.8, "little": 0.8, "compact": 0.85, "large": 1.25, "big": 1.25,
              "spacious": 1.3, "huge": 1.5}
FURNISH_WORDS = {"empty": False, "bare": False, "unfurnished": False, "furnished": True}
"""Room modifiers: whether the room type's default furniture comes (`lyra_sim.worlds.spec.RoomSpec.furnish`)."""
SURFACE_WORDS = {"floor": "floor", "flooring": "floor", "ground": "floor", "wall": "walls", "walls": "walls",
                 "ceiling": "ceiling"}
ON_WORDS = frozenset({"on", "atop", "onto", "upon"})
MAX_PHRASE = 4
DEFAULT_MOTIONS = {"robot_vacuum": "drive"}
"""Kinds that move in a dynamic scene even when no motion word names it."""


@dataclass(frozen=True)
class ParseResult:
    """What `parse_prompt` made of a prompt.

    Attributes:
        spec: the scene spec (counts may be None = seeded at generation).
        understood: matched words/phrases in prompt order (grammar words included).
        unknown: words that were not understood, in prompt order (for the CLI and manifest).
    """

    spec: SceneSpec
    understood: list[str]
    unknown: list[str]


@dataclass(frozen=True)
class PromptEntry:
    """A lexicon entry: what a word or phrase means."""

    kind: str  # "object" | "room" | "surface" | "color" | "material" | "size" | "furnish" | "number" | "quantifier"
    #          | "stop" | "motion" | "part" | "building"
    value: object = None
    color: str | None = None  # tone words carry a color as well as a material


def _lexicon() -> dict[str, PromptEntry]:
    lex: dict[str, PromptEntry] = {}
    for w in STOP_WORDS:
        lex[w] = PromptEntry("stop")
    for w, n in NUMBERS.items():
        lex[w] = PromptEntry("number", n)
    for w in QUANTIFIERS:
        lex[w] = PromptEntry("quantifier")
    for w, s in SIZE_WORDS.items():
        lex[w] = PromptEntry("size", s)
    for w, m in MATERIAL_WORDS.items():
        lex[w] = PromptEntry("material", m)
    for w, f in FURNISH_WORDS.items():
        lex[w] = PromptEntry("furnish", f)
    for c in COLORS:
        lex[c] = PromptEntry("color", c)
    for w, c in COLOR_SYNONYMS.items():
        lex[w] = PromptEntry("color", c)
    for w, m in TONE_WORDS.items():
        lex[w] = PromptEntry("material", m, color=w)
    for w, s in SURFACE_WORDS.items():
        lex[w] = PromptEntry("surface", s)
    for name, room in ROOM_KINDS.items():
        for w in (name.replace("_", " "),) + room.aliases:
            if lex.get(w, PromptEntry("stop")).kind != "room":  # an earlier room type keeps its words
                lex[w] = PromptEntry("room", name)
    for name, kind in OBJECT_KINDS.items():
        for w in (name.replace("_", " "),) + kind.aliases:
            lex[w] = PromptEntry("object", name)
    for name, building in BUILDING_KINDS.items():
        for w in building.aliases:
            lex.setdefault(w, PromptEntry("building", name))
    for w in MOTION_WORDS:
        lex.setdefault(w, PromptEntry("motion", w))
    for w in JOINT_NOUNS:
        lex.setdefault(w, PromptEntry("part", w))
    return lex


_LEXICON = MappingProxyType(_lexicon())  # built once from the registries


def _singulars(word: str) -> list[str]:
    """Candidate singular forms of a (possibly plural) word, most specific first."""
    out = []
    if word.endswith("ies") and len(word) > 4:
        out.append(word[:-3] + "y")
    if word.endswith("ves") and len(word) > 4:
        out += [word[:-3] + "f", word[:-3] + "fe"]
    if word.endswith("es") and len(word) > 3:
        out.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        out.append(word[:-1])
    return out


def match_entry(tokens: list[str], i: int) -> tuple[int, str, PromptEntry, bool] | None:
    """Longest lexicon phrase starting at ``tokens[i]``: ``(length, phrase, entry, plural)``.

    A phrase whose last word is a plural of a noun in the lexicon matches that noun.
    """
    for n in range(min(MAX_PHRASE, len(tokens) - i), 0, -1):
        words = tokens[i:i + n]
        phrase = " ".join(words)
        if phrase in _LEXICON:
            return n, phrase, _LEXICON[phrase], phrase in _PLURAL_ALIASES
        for s in _singulars(words[-1]):
            single = " ".join(words[:-1] + [s])
            if single in _LEXICON and _LEXICON[single].kind in ("object", "surface", "room", "building", "part"):
                return n, phrase, _LEXICON[single], True
    return None


_PLURAL_ALIASES = frozenset({"shelves", "bookshelves", "shelving"})
"""Aliases that are plurals themselves."""


@dataclass
class PendingEntry:
    """Modifiers seen since the last noun; they bind to the next one.

    ``slots`` maps a modifier type (count, color, material, scale, seeded) to
    ``(value, position, phrase)``; a second modifier of a type replaces the first, which
    is then reported as not understood ("a red and a blue sofa": the sofa is blue).
    """

    slots: dict[str, tuple[object, int, str]] = field(default_factory=dict)

    def set(self, slot: str, value, position: int, phrase: str, dropped: list[tuple[int, str]]) -> None:
        if slot in self.slots:
            _, pos, old = self.slots[slot]
            dropped.append((pos, old))
        self.slots[slot] = (value, position, phrase)

    def get(self, slot: str, default=None):
        return self.slots[slot][0] if slot in self.slots else default

    def empty(self) -> bool:
        return not self.slots

    def words(self) -> list[tuple[int, str]]:
        return sorted({(pos, phrase) for _, pos, phrase in self.slots.values()})  # a tone fills two slots


_TOKEN = re.compile(r"(?<!\w)-\d+(?:[.,]\d+)?|\d+(?:[.,]\d+)?|[^\W\d_]+|[^\w\s]")
"""A number (signed only at a word start: "room-3" is a word and a 3), a word of letters in any
script, or one other character (punctuation is grammar; symbols are reported)."""


def tokenize(prompt: str) -> list[str]:
    """Words, numbers and symbols of ``prompt``: lower-cased, NFKC-normalized (a ligature "ﬁ" is "fi"),
    possessive 's and punctuation dropped. Letters outside a-z stay in their word ("café" is one
    unknown word, never "caf")."""
    text = unicodedata.normalize("NFKC", prompt).lower().replace("'s", "").replace("\u2019s", "")
    return [t for t in _TOKEN.findall(text) if not (len(t) == 1 and unicodedata.category(t).startswith("P"))]


def take_unmatched(token: str, at: int, pending: PendingEntry, unknown: list[tuple[int, str]],
                   fail: Callable[[str], None]) -> None:
    """A token no lexicon phrase starts with: a count ("3"), a number that is no count (an error),
    or a word that is reported as not understood."""
    if token.isdigit():
        pending.set("count", int(token), at, token, unknown)
    elif token[-1].isdigit():  # "-3", "1.5", "1,000": no count (and the grammar has no other numbers)
        fail(f"{token!r} is not a count; counts are whole numbers (e.g. 'two chairs', '3 crates')")
    else:
        unknown.append((at, token))


def take_furnish(pending: PendingEntry) -> tuple[bool, tuple[int, str]] | None:
    """The furnishing word waiting in ``pending`` (removed from it): ``(value, (position, phrase))``, or None.

    The caller keeps the value where the noun is a room (or a building) and reports the word otherwise."""
    if "furnish" not in pending.slots:
        return None
    value, at, phrase = pending.slots.pop("furnish")
    return bool(value), (at, phrase)


def take_modifier(entry: PromptEntry, at: int, phrase: str, pending: PendingEntry, unknown: list[tuple[int, str]]) -> bool:
    """Bind a modifier (a count, quantifier, color, material or tone, size, furnishing) to the next noun;
    False when ``entry`` is no modifier."""
    if entry.kind == "number":
        pending.set("count", int(entry.value), at, phrase, unknown)
    elif entry.kind == "quantifier":
        pending.set("seeded", True, at, phrase, unknown)
    elif entry.kind == "color":
        pending.set("color", entry.value, at, phrase, unknown)
    elif entry.kind == "material":
        pending.set("material", entry.value, at, phrase, unknown)
        if entry.color is not None:  # a tone ("oak"): a material and its color
            pending.set("color", entry.color, at, phrase, unknown)
    elif entry.kind == "size":
        pending.set("scale", float(entry.value), at, phrase, unknown)
    elif entry.kind == "furnish":
        pending.set("furnish", bool(entry.value), at, phrase, unknown)
    else:
        return False
    return True


def parse_prompt(prompt: str) -> ParseResult:
    """Parse a text prompt into a `SceneSpec`; see the module docstring for the grammar.

    Raises:
        ValueError: empty prompt, nothing recognizable, two room types, or counts over the caps.
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt: empty; describe a room and/or objects, e.g. 'a kitchen with a red fridge'")
    tokens = tokenize(prompt)
    if _names_building(tokens):
        from lyra_sim.worlds.building_prompt import parse_building  # the building grammar builds on this one

        return parse_building(prompt)
    understood: list[tuple[int, str]] = []  # (token position, phrase), to report in prompt order
    unknown: list[tuple[int, str]] = []
    objects: list[ObjectSpec] = []
    room_type: str | None = None
    room_scale = 1.0
    surfaces: dict[str, SurfaceSpec] = {}
    pending = PendingEntry()
    last_object: int | None = None  # index in objects of the most recent object noun
    stack_on: int | None = None  # object waiting for its support after "on"
    content = False
    motions: list[tuple[int, str]] = []  # (object index, motion kind)
    pending_motion: tuple[int, str] | None = None  # (position, word) waiting for its object
    last_content: str | None = None  # kind of the last noun: "object", "room", ...
    object_end = -1  # the token just after the last object noun: a motion word there is that object's
    implied: list[int] = []  # objects only a part noun brought ("a drawer": a dresser)
    furnish: bool | None = None  # "an empty room", "a furnished bedroom"

    def fail(message: str):
        raise ValueError(f"prompt: {message} (in {prompt!r})")

    i = 0
    while i < len(tokens):
        at = i
        m = match_entry(tokens, i)
        if m is None:
            take_unmatched(tokens[i], at, pending, unknown, fail)
            i += 1
            continue
        n, phrase, entry, plural = m
        i += n
        if entry.kind == "motion":
            prev = objects[last_object].kind if last_content == "object" and last_object is not None else None
            kind = None if prev is None or any(o == last_object for o, _ in motions) else motion_for(phrase, prev)
            if kind is None and prev is not None and at == object_end and pending_motion is None:
                kind = _bind(phrase, prev, fail)  # "a table spinning": the table's, an error (not the next noun's)
            if kind is not None:  # "a person walking"
                motions.append((last_object, kind))
                understood.append((at, phrase))
            else:  # "a rolling cart": waits for the next object
                if pending_motion is not None:
                    unknown.append(pending_motion)
                pending_motion = (at, phrase)
            continue
        bound = take_furnish(pending) if entry.kind in ("part", "room", "surface", "object") else None
        if bound is not None:  # "empty" belongs to a room: "an empty box" is not understood
            if entry.kind == "room":
                furnish = bound[0]
                understood.append(bound[1])
            else:
                unknown.append(bound[1])
        if entry.kind == "part":  # "drawer": the last object that has one, or a dresser
            hosts = [k for k, o in enumerate(objects) if o.kind in DRAWER_HOSTS]
            if not hosts:
                objects.append(ObjectSpec(JOINT_NOUNS[entry.value]))
                hosts = [len(objects) - 1]
                implied.append(hosts[0])
            last_object, last_content, content, object_end = hosts[-1], "object", True, i
            understood += [(at, phrase)] + pending.words()
            pending, stack_on = PendingEntry(), None
            if pending_motion is not None:
                motions.append((last_object, _bind(pending_motion[1], objects[last_object].kind, fail)))
                understood.append(pending_motion)
                pending_motion = None
            continue
        if entry.kind == "stop":
            understood.append((at, phrase))
            if (phrase in ON_WORDS and last_object is not None and pending.empty()
                    and OBJECT_KINDS[objects[last_object].kind].placement == "on_top"):
                stack_on = last_object
            continue
        if take_modifier(entry, at, phrase, pending, unknown):
            continue
        content = True
        last_content = entry.kind
        understood += [(at, phrase)] + pending.words()
        color, material, scale = pending.get("color"), pending.get("material"), pending.get("scale")
        if entry.kind == "room":
            if room_type not in (None, "plain", entry.value) and entry.value != "plain":
                fail(f"names two room types ({room_type} and {entry.value}); one room per scene")
            if room_type in (None, "plain"):
                room_type = entry.value
            room_scale = scale or room_scale
            if material:  # "a marble kitchen": the floor
                surfaces["floor"] = SurfaceSpec(material, color)
            elif color:  # "a blue bedroom": the walls
                surfaces["walls"] = SurfaceSpec(None, color)
        elif entry.kind == "surface":
            surfaces[entry.value] = SurfaceSpec(material, color)
        else:
            kind = entry.value
            count = pending.get("count", None if plural or pending.get("seeded") else 1)
            try:
                spec = ObjectSpec(kind, count, color, material, scale or 1.0)
            except ValueError as e:
                fail(str(e))
            if stack_on is not None and OBJECT_KINDS[kind].support:
                objects[stack_on] = replace(objects[stack_on], on=kind)
                if pending.empty() and any(o.kind == kind for o in objects):  # "on the desk" named before
                    pending, stack_on = PendingEntry(), None
                    continue
            objects.append(spec)
            last_object, object_end = len(objects) - 1, i
            if pending_motion is not None:
                motions.append((last_object, _bind(pending_motion[1], kind, fail)))
                understood.append(pending_motion)
                pending_motion = None
        pending, stack_on = PendingEntry(), None
    unknown += pending.words()  # modifiers with no noun after them ("a sofa, red")
    if pending_motion is not None:  # "a table, rolling"
        unknown.append(pending_motion)
    moving = {k for k, _ in motions}
    motions += [(k, DEFAULT_MOTIONS[o.kind]) for k, o in enumerate(objects) if o.kind in DEFAULT_MOTIONS and k not in moving]
    unknown_words = [w for _, w in sorted(unknown)]
    if not content:
        fail("nothing recognizable; name a room (" + ", ".join(k.replace("_", " ") for k in ROOM_KINDS)
             + ") and/or objects (e.g. table, chair, sofa); unknown words: " + (", ".join(unknown_words) or "none"))
    room = RoomSpec(
        type=room_type or _infer_room(objects),
        scale=room_scale,
        floor=surfaces.get("floor", SurfaceSpec()),
        walls=surfaces.get("walls", SurfaceSpec()),
        ceiling=surfaces.get("ceiling", SurfaceSpec()),
        # a prompt about motion, not furniture ("a kitchen with a person walking", "a bedroom with a
        # drawer sliding"): the room keeps its usual furniture
        furnish=furnish if furnish is not None
        else True if objects and all(k in implied or k in {o for o, _ in motions} for k in range(len(objects)))
        else None,
    )
    motion_specs = []
    for k, kind in sorted(set(motions)):
        motion_specs += [MotionSpec(kind, name) for name in _instance_names(objects, k)]
    try:
        spec = SceneSpec(room=room, objects=tuple(objects), motions=tuple(motion_specs))
    except ValueError as e:
        fail(str(e))
    return ParseResult(spec, [w for _, w in sorted(understood)], unknown_words)


def _instance_names(objects: list[ObjectSpec], k: int) -> list[str]:
    """Instance names of entry ``k`` (``cart_1``...), or its kind when seeded counts make them unknown."""
    before = [o.count for o in objects[:k] if o.kind == objects[k].kind]
    if objects[k].count is None or None in before:
        return [objects[k].kind]
    first = sum(before)
    return [f"{objects[k].kind}_{first + j}" for j in range(objects[k].count)]


def _bind(word: str, kind: str, fail) -> str:
    """The motion ``word`` means for an object of ``kind``, or a prompt error naming what it can move."""
    motion = motion_for(word, kind)
    if motion is None:
        can = sorted({k for m in MOTION_WORDS[word] for k in MOTION_KINDS[m].targets})
        fail(f"{word!r} cannot apply to a {kind.replace('_', ' ')} (it moves: {', '.join(can)})")
    return motion


def _names_building(tokens: list[str]) -> bool:
    """Whether a building noun is among the phrases the parser would read."""
    i = 0
    while i < len(tokens):
        m = match_entry(tokens, i)
        if m is not None and m[2].kind == "building":
            return True
        i += m[0] if m is not None else 1
    return False


def _infer_room(objects: list[ObjectSpec]) -> str:
    """The room type whose typical kinds the objects match most (ties: registry order); else plain."""
    best, best_score = "plain", 0
    kinds = [o.kind for o in objects]
    for name, room in ROOM_KINDS.items():
        score = sum(k in room.typical for k in kinds)
        if score > best_score:
            best, best_score = name, score
    return best

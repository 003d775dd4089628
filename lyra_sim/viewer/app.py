"""`SceneViewer`: a viser server showing one scene, its overlays, camera controls and episodes.

The page (one per browser, all sharing the server's GUI state) has, in its side panel: the
scene's facts; splat visibility and colouring (appearance, or semantic label with a legend;
`nodes`); for a dynamic scene, its time slider and Play/Pause (`timeline`); the collision
mesh, convex pieces, nav grid and spawn region (`layers`); camera presets, Lyra's
trajectories and the object list (`camera`); and, with a rollout, episode playback
(`episodes`).
"""

from __future__ import annotations

import contextlib
import errno
import io
import socket

import numpy as np

from lyra_sim.envs.rollout import Rollout, episodes_in_scene

from .camera import CameraControls
from .layers import Layers
from .nodes import COLOR_MODES, SplatNodes
from .presets import preview_pose, scene_box
from .source import ViewSource
from .splats import legend_html
from .timeline import TimeControls, object_bbox_at


def _viser():
    try:
        import viser
    except ImportError as exc:
        raise ImportError("lyra-sim view needs viser: pip install -e \".[viewer]\"") from exc
    return viser


def check_port(host: str, port: int) -> None:
    """Raise ValueError if nothing can listen on ``host:port`` (port 0: any free port, always fine)."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ValueError(f"--host {host}: not an address of this machine ({exc.strerror})") from exc
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise ValueError(f"port {port} on {host} is in use (another `lyra-sim view`?); pick another with --port") from exc
                raise ValueError(f"cannot listen on {host}:{port} ({exc.strerror})") from exc


def episodes_for(source: ViewSource, rollout: Rollout) -> list[int]:
    """The episodes of ``rollout`` recorded in ``source``'s scene; ValueError if there are none."""
    if source.kind == "splat file":
        raise ValueError(f"{source.path}: --episodes needs a bundle (the agents' floor and scene identity come from it)")
    episodes = episodes_in_scene(rollout, source.scene_sha256)
    if not episodes:
        raise ValueError(
            f"{source.path}: the rollout has no episode in this scene (its scene.ply sha256 "
            f"{source.scene_sha256[:12]}...; the rollout's scenes: {', '.join(s[:12] for s in rollout.info.scene_sha256)})"
        )
    return episodes


class SceneViewer:
    """Serve ``source`` on ``host:port`` (port 0: a free one), with ``rollout``'s episodes if given.

    The server runs in background threads from construction until `stop`. A port that is
    taken is a ValueError (viser itself would silently move to the next port).
    """

    def __init__(self, source: ViewSource, host: str = "127.0.0.1", port: int = 8080, rollout: Rollout | None = None,
                 splat_strategy: str | None = None) -> None:
        viser = _viser()
        episodes = episodes_for(source, rollout) if rollout is not None else []
        check_port(host, port)
        self.source = source
        with contextlib.redirect_stdout(io.StringIO()):  # viser's own banner; the command prints the URL
            self.server = server = viser.ViserServer(host=host, port=port, label="lyra-sim", verbose=False)
        if port != 0 and server.get_port() != port:  # taken between the check and the bind
            server.stop()
            raise ValueError(f"port {port} on {host} is in use; pick another with --port")
        self.host, self.port = host, server.get_port()
        server.scene.set_up_direction("+z")
        server.gui.configure_theme(show_share_button=False)  # sharing goes through an outside relay
        server.gui.main_panel.dock_right()  # beside the view, not over it
        scene = source.scene
        means = scene.means.cpu().numpy()
        self.lo, self.hi = scene_box(source.manifest, means)
        self.home = preview_pose(source.manifest, self.lo, self.hi)
        server.gui.add_markdown(self._facts())
        self._splats(server, splat_strategy)
        self.timeline = self.camera = None
        if source.dynamic is not None and len(source.dynamic) > 1:
            self.timeline = TimeControls(server, source.dynamic, self.show_time)
        self.layers = Layers(server, source, fade_splats=self.fade_splats)
        motions = list(source.manifest.get("motions") or [])
        self.camera = CameraControls(server, self.home, self.lo, self.hi, list(source.manifest.get("objects") or []),
                                     bbox_of=lambda obj: object_bbox_at(obj, motions, self.splats.index))
        self.player = None
        if episodes:
            from .episodes import EpisodePlayer

            self.player = EpisodePlayer(server, rollout, episodes)

    @property
    def url(self) -> str:
        """Where a browser on this machine (or at the far end of ``ssh -L``) opens the page."""
        if self.host in ("127.0.0.1", "::1", "localhost"):
            host = "localhost"
        elif self.host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()  # every interface: name the machine
        else:
            host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _facts(self) -> str:
        s, m = self.source, self.source.manifest
        lines = [f"**{s.path.name or s.path}** ({s.kind})", f"{len(s.scene):,} Gaussians, SH degree {s.scene.sh_degree}"]
        if s.dynamic is not None:
            d = s.dynamic
            lines[-1] += " (at the first time)"
            lines.append(f"dynamic: {len(d)} times over {d.duration:.2f} s" + (f" at {d.fps:g} fps" if d.fps else ""))
        if m.get("prompt"):
            lines.append(f"prompt: *{m['prompt']}*")
        size = self.hi - self.lo
        lines.append(f"extent {size[0]:.1f} x {size[1]:.1f} x {size[2]:.1f} m")
        return "  \n".join(lines)

    def _splats(self, server, strategy: str | None) -> None:
        scenes = self.source.dynamic.scenes if self.source.dynamic is not None else (self.source.scene,)
        self.splats = SplatNodes(server, scenes, strategy)
        gui = server.gui
        with gui.add_folder("Splats"):
            self.splats_visible = gui.add_checkbox("Show splats", True)
            self.splats_visible.on_update(lambda _: setattr(self.splats, "visible", self.splats_visible.value))
            self.color_mode = self.legend = None
            if "semantic label" in self.splats.modes:
                self.color_mode = gui.add_dropdown("Colour", COLOR_MODES, initial_value=COLOR_MODES[0])
                self._counts = self.splats.label_counts()
                self.legend = gui.add_html(legend_html(self.source.scene.label_names, self._counts), visible=False)
                self.color_mode.on_update(lambda _: self.set_color_mode(self.color_mode.value))

    def set_color_mode(self, mode: str) -> None:
        """Colour the splats by ``mode`` (one of `COLOR_MODES` the scene supports)."""
        self.splats.set_color_mode(mode)
        self.legend.visible = mode == "semantic label"

    def fade_splats(self, factor: float) -> None:
        """Draw the splats at ``factor`` times their opacity (1: as they are)."""
        self.splats.set_fade(factor)

    def show_time(self, index: int) -> None:
        """Show a dynamic scene at its time ``index``: the splats, the legend's counts, the highlighted object."""
        with self.server.atomic():  # the old and the new time's splats swap in one client update
            self.splats.show(index)
        if self.legend is not None:
            counts = self.splats.label_counts()
            if not np.array_equal(counts, self._counts):
                self._counts = counts
                self.legend.content = legend_html(self.source.scene.label_names, counts)
        if self.camera is not None:
            self.camera.highlight()

    def stop(self) -> None:
        """Stop playback, camera moves and the server (its port is free afterwards)."""
        if self.player is not None:
            self.player.stop()
        if self.timeline is not None:
            self.timeline.pause()
        self.camera.mover.stop()
        with contextlib.redirect_stdout(io.StringIO()):  # viser's "Server stopped"
            self.server.stop()

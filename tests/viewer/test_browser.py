"""`lyra-sim view` in a real browser: headless Chromium (Debian's ``chromium``, installed by
``scripts/setup.sh --dev``) driven by Playwright, WebGL on its software rasterizer (SwiftShader).

The page is opened at a known camera pose (viser's URL parameters); the canvas must then show
the splats as lyra-sim's own renderer draws the same view, most of it must differ from the
empty background, and toggling the collision mesh must change the picture (and toggling it off
restore it). For a dynamic scene (the box room's table sliding), moving the time slider must
change the picture where the table moves, and at each time match lyra-sim's render of that time.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from _scenes import box_room_scene, fast_export_config

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
if CHROMIUM is None:
    pytest.skip("no browser: install Debian's chromium (bash scripts/setup.sh --dev does)", allow_module_level=True)
sync_playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')").sync_playwright
pytest.importorskip("viser", reason="the viewer extra is not installed (pip install -e '.[viewer]')")

from PIL import Image  # noqa: E402

from lyra_sim.ply import read_ply  # noqa: E402
from lyra_sim.render import render  # noqa: E402
from lyra_sim.viewer.presets import CameraPose  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
# Inside the box room (2 x 2.4 x 1.6 m), high in a corner, looking at the red table and the floor.
POSE = CameraPose((0.3, 0.3, 1.2), (1.0, 1.2, 0.4), fov_y=math.radians(60))
GIZMO = 90  # px: viser draws its axes gizmo in the canvas's bottom-left corner
# Agreement with lyra-sim's renderer (measured: mean |diff| 0.6 / 255, every pixel within 32): both draw the
# same Gaussians, viser with its own WebGL splat shader from float16 covariances and DC colours.
MAX_MEAN_ABS_DIFF = 8.0
MAX_MEAN_COLOUR_DIFF = 4.0
MIN_CLOSE_FRACTION = 0.9  # pixels within 32 / 255 on every channel


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from lyra_sim.exporters.bundle import export_bundle
    from lyra_sim.ply import write_ply

    # 16k Gaussians: software WebGL takes seconds per frame at 40k (measured), well under one here.
    root = tmp_path_factory.mktemp("viewer")
    write_ply(root / "room.ply", box_room_scene(spacing=0.04))
    bundle = root / "bundle"
    config = fast_export_config()
    config = replace(config, collision=replace(config.collision, face_budget=2000))  # fewer lines to draw in software
    export_bundle(root / "room.ply", bundle, ("obj",), config)
    with _serve(bundle) as url:
        yield bundle, url


@contextlib.contextmanager
def _serve(path: Path):
    """``lyra-sim view PATH --port 0`` in a subprocess; yields its URL."""
    proc = subprocess.Popen([sys.executable, "-m", "lyra_sim.cli", "view", str(path), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    line = proc.stdout.readline()
    if " at http://" not in line:
        proc.kill()
        pytest.fail(f"lyra-sim view did not start: {line}{proc.stderr.read()}")
    try:
        yield line.split(" at ")[1].split()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _open(p, url: str):
    """A headless Chromium page at ``url`` opened at `POSE`, with its splats loaded; ``(browser, page)``."""
    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    page = browser.new_page(viewport={"width": 760, "height": 400})  # a 436 x 400 canvas beside the panel
    page.set_default_timeout(30_000)
    page.goto(f"{url}/?{POSE.url_query}&fixedDpr=1")
    # viser notes software WebGL in a corner card; it is not part of the scene.
    page.add_style_tag(content=".mantine-Notifications-root { display: none !important; }")
    page.get_by_label("Show splats").wait_for()
    return browser, page


def _reference(scene, shape, background: np.ndarray) -> np.ndarray:
    """lyra-sim's render of `POSE` at the canvas's size over viser's background, gizmo corner blanked."""
    h, w = shape[:2]
    bg = torch.tensor(np.median(background[:-GIZMO].reshape(-1, 3), 0) / 255, dtype=torch.float32)
    ref = render(scene, POSE.cameras(w, h), mode="RGB", background=bg).rgb[0]
    ref = (ref.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
    ref[-GIZMO:, :GIZMO] = 0
    return ref


def _assert_agrees(shown: np.ndarray, ref: np.ndarray) -> None:
    diff = np.abs(shown.astype(int) - ref)
    assert diff.mean() < MAX_MEAN_ABS_DIFF, diff.mean()
    assert np.abs(shown.reshape(-1, 3).mean(0) - ref.reshape(-1, 3).mean(0)).max() < MAX_MEAN_COLOUR_DIFF
    assert (diff.max(-1) <= 32).mean() > MIN_CLOSE_FRACTION


def _canvas(page) -> np.ndarray:
    """The 3D view as ``[H, W, 3]`` uint8, with the gizmo corner blanked."""
    canvas = max(page.locator("canvas").all(), key=lambda c: (c.bounding_box() or {"width": 0})["width"])
    image = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")).copy()
    image[-GIZMO:, :GIZMO] = 0
    return image


def _settle(page, previous: np.ndarray | None = None, timeout: float = 40.0) -> np.ndarray:
    """The canvas once it has stopped changing (and, with ``previous``, differs from it)."""
    deadline = time.time() + timeout
    last = _canvas(page)
    while time.time() < deadline:
        time.sleep(0.5)
        now = _canvas(page)
        still = now.shape == last.shape and np.abs(now.astype(int) - last).mean() < 0.3
        changed = previous is None or np.abs(now.astype(int) - previous).max(-1).mean() > 0
        if still and changed and now.std() > 1:
            return now
        last = now
    raise AssertionError("the canvas did not settle")


def _differs(a: np.ndarray, b: np.ndarray, threshold: int = 24) -> float:
    """Fraction of pixels where some channel differs by more than ``threshold``."""
    return float((np.abs(a.astype(int) - b).max(-1) > threshold).mean())


def test_the_page_draws_the_splats_as_lyra_sim_renders_them_and_toggles_the_mesh(server):
    bundle, url = server
    with sync_playwright() as p:
        browser, page = _open(p, url)
        try:
            splats = _settle(page)

            page.get_by_label("Collision mesh").check()
            mesh = _settle(page, previous=splats)
            assert _differs(mesh, splats) > 0.01  # the wireframe's edges cross the view (measured: 3%)
            page.get_by_label("Collision mesh").uncheck()
            off = _settle(page, previous=mesh)
            assert np.abs(off.astype(int) - splats).mean() < 1.0

            page.get_by_label("Show splats").uncheck()
            background = _settle(page, previous=off)
            # Most of the canvas is splats, not background (the room surrounds the camera).
            assert _differs(splats, background) > 0.8

            # The same view by lyra-sim's renderer, at the canvas's size, over viser's background.
            _assert_agrees(splats, _reference(read_ply(bundle / "scene.ply"), splats.shape, background))
        finally:
            browser.close()


def test_the_time_slider_moves_a_dynamic_scene_as_lyra_sim_renders_it(tmp_path):
    from _scenes4d import sliding_table, write_dynamic_directory

    dyn = sliding_table(spacing=0.04, shifts=(0.0, 0.25, 0.5))
    directory = write_dynamic_directory(tmp_path / "sliding", dyn)
    with _serve(directory) as url, sync_playwright() as p:
        browser, page = _open(p, url)
        try:
            first = _settle(page)
            slider = page.get_by_role("slider")
            slider.focus()
            page.keyboard.press("End")  # the last time, 0.5 s: the table 0.5 m further along x
            last = _settle(page, previous=first)
            page.get_by_label("Show splats").uncheck()
            background = _settle(page, previous=last)

            refs = [_reference(dyn.scenes[i], first.shape, background) for i in (0, 2)]
            moved = np.abs(refs[0].astype(int) - refs[1]).max(-1) > 24  # where lyra-sim sees the table move
            assert moved.mean() > 0.02
            changed = np.abs(first.astype(int) - last).max(-1) > 24
            assert changed[moved].mean() > 0.7  # the page changed where the table moved ...
            assert changed[~moved].mean() < 0.03  # ... and hardly anywhere else
            _assert_agrees(first, refs[0])
            _assert_agrees(last, refs[1])
        finally:
            browser.close()

"""The bundle cache of environments (`lyra_sim.envs.cache`): one build shared by concurrent processes, reuse, refusals."""

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest
import torch

import lyra_sim  # noqa: F401  (registers LyraScene-v0)
from _envs import TASK


def test_concurrent_builders_share_one_bundle_that_is_then_reused(bundle, cache, tmp_path):
    from lyra_sim.envs.cache import bundle_for_path
    from lyra_sim.manifest import verify
    from lyra_sim.ply import read_ply, write_ply

    ply = tmp_path / "room.ply"
    write_ply(ply, read_ply(bundle / "scene.ply"))
    code = (
        "import sys; from lyra_sim.envs.cache import bundle_for_path; "
        f"print(bundle_for_path({str(ply)!r}))"
    )
    env = dict(os.environ, LYRA_SIM_CACHE=str(cache), OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate()[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs) and outs[0] == outs[1]
    built = Path(outs[0])
    assert built.parent == cache / "bundles" and verify(built) == []
    assert [p.name for p in (cache / "bundles").iterdir() if p.name.startswith(".")] == []  # no scratch left
    # Later calls read the finished entry; an existing bundle is used in place, not copied.
    stamp = (built / "manifest.json").stat().st_mtime_ns
    assert bundle_for_path(ply) == built and (built / "manifest.json").stat().st_mtime_ns == stamp
    assert bundle_for_path(bundle) == bundle


def test_prompt_generates_once_then_reads_the_cache(cache):
    kw = dict(prompt={"room": {"type": "plain", "size": [2.5, 2.5, 2.2], "furnish": False}, "objects": []}, seed=0, task=TASK)
    env = gym.make("LyraScene-v0", **kw).unwrapped
    built = env.bundle
    assert built.parent == cache / "bundles" and json.loads((built / "manifest.json").read_text())["seed"] == 0
    stamp = (built / "scene.ply").stat().st_mtime_ns
    again = gym.make("LyraScene-v0", **kw).unwrapped
    assert again.bundle == built and (built / "scene.ply").stat().st_mtime_ns == stamp


def test_a_bundle_that_fails_verification_is_refused(bundle, cache, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(bundle, broken)
    with open(broken / "nav.npz", "ab") as f:
        f.write(b"x")
    with pytest.raises(ValueError, match="fails verification: nav.npz"):
        gym.make("LyraScene-v0", scene=str(broken))


def test_a_ply_without_a_usable_surface_is_refused(cache, tmp_path):
    from lyra_sim.ply import write_ply
    from lyra_sim.scene import GaussianScene

    g = torch.Generator().manual_seed(0)
    n = 50
    quats = torch.tensor([[1.0, 0, 0, 0]]).expand(n, 4).contiguous()
    scene = GaussianScene.from_rgb(
        torch.rand(n, 3, generator=g) * 3, quats, torch.full((n, 3), 0.01), torch.full((n,), 0.9), torch.rand(n, 3, generator=g)
    )
    write_ply(tmp_path / "dust.ply", scene)
    with pytest.raises(ValueError, match="dust.ply.*no surface"):
        gym.make("LyraScene-v0", scene=str(tmp_path / "dust.ply"))


def _dead_scratch(directory: Path, name: str) -> Path:
    """A scratch directory named as `lyra_sim.atomic` names them, owned by a process that has exited."""
    from lyra_sim import atomic

    pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True).stdout)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f".{name}.{pid}-{atomic._host()}.k1ll.tmp"
    path.mkdir()
    (path / "half.ply").write_bytes(b"x" * 1000)
    return path


def test_scratch_of_killed_cache_builds_is_swept_by_the_next_use(bundle, cache, tmp_path, monkeypatch):
    from lyra_sim.envs import cache as cache_module
    from lyra_sim.ply import read_ply, write_ply

    ply = tmp_path / "room.ply"
    write_ply(ply, read_ply(bundle / "scene.ply"))

    def quick_export(src, out, *args, **kw):  # the cache's own logic, without the half-minute export
        import shutil

        from lyra_sim.atomic import atomic_directory

        with atomic_directory(out, overwrite=kw.get("overwrite", False)) as tmp:
            for item in bundle.iterdir():
                (shutil.copytree if item.is_dir() else shutil.copyfile)(item, tmp / item.name)

    monkeypatch.setattr(cache_module, "export_bundle", quick_export)
    built = cache_module.bundle_for_path(ply)
    stale = [_dead_scratch(cache / "bundles", built.name), _dead_scratch(cache / "lod", "x.safetensors")]
    assert cache_module.bundle_for_path(ply) == built  # the cached entry, read ...
    cache_module.load_lod(built)
    assert not any(p.exists() for p in stale)  # ... and the dead builders' scratch is gone
    assert not [p.name for p in (cache / "bundles").iterdir() if p.name.startswith(".")]

"""What the ``lyra-sim`` program does before a command (`lyra_sim.cli.startup`), each in a fresh interpreter."""

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_open3d_imports_without_plotly_or_dash_and_its_plotly_viewer_still_works():
    out = _run("""
        import sys
        from lyra_sim.cli import startup
        assert startup.defer_open3d_plotly()
        assert not startup.defer_open3d_plotly()  # the name is taken now
        import numpy as np
        import open3d as o3d
        print("dash" in sys.modules, "plotly" in sys.modules)
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.arange(30.0).reshape(10, 3)))
        fig = o3d.visualization.get_plotly_fig([cloud])
        print(type(fig).__name__, len(fig.data), len(fig.data[0].x), "plotly" in sys.modules)
        real = sys.modules[startup.PLOTLY_MODULE]
        print(all(getattr(o3d.visualization, n) is getattr(real, n) for n in startup.PLOTLY_FUNCTIONS))
    """)
    assert out.splitlines() == ["False False", "Figure 1 10 True", "True"]


def test_deferring_after_open3d_is_imported_changes_nothing():
    out = _run("""
        import sys
        import open3d
        from lyra_sim.cli import startup
        print(startup.defer_open3d_plotly(), sys.modules[startup.PLOTLY_MODULE].__file__.endswith("draw_plotly.py"))
    """)
    assert out == "False True"


def test_freed_memory_is_kept_on_glibc():
    out = _run("""
        import platform
        from lyra_sim.cli import startup
        print(platform.libc_ver()[0], startup.keep_freed_memory())
    """)
    libc, took = out.split()
    assert took == str(libc == "glibc")

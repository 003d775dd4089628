"""Depth views → mesh (`lyra_sim.exporters.depth_fusion`): which depth pixels are trusted."""

import numpy as np

from lyra_sim.exporters.depth_fusion import valid_depth


def test_valid_depth_drops_edges_grazing_and_transparent_pixels():
    d = np.full((1, 16, 16), 2.0, np.float32)
    d[0, :, 8:] = 4.0  # a depth discontinuity at column 8
    a = np.ones_like(d)
    a[0, 0:3, 0:3] = 0.1  # transparent corner
    k = np.array([[[16.0, 0, 8], [0, 16.0, 8], [0, 0, 1]]], np.float32)
    out = valid_depth(d, a, k, alpha_threshold=0.5, edge_threshold=0.04, min_cos=0.0)
    assert (out[0, 5:, 7:9] == 0).all()  # both sides of the jump
    assert (out[0, 0:3, 0:3] == 0).all()
    assert (out[0, 5:, 2:6] == 2.0).all()
    # a plane seen almost edge-on: depth grows fast along x
    slope = np.broadcast_to(1.0 + 0.5 * np.arange(16, dtype=np.float32), (1, 16, 16)).copy()
    assert (valid_depth(slope, np.ones_like(slope), k, 0.5, 10.0, min_cos=0.65)[0, 2:-2, 2:-2] == 0).all()

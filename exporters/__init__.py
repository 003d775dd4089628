"""lyra_sim.exporters: Gaussians → simulation assets (installed from the top-level ``exporters/``).

One concept per module:

- `collision`: collision mesh from any `GaussianScene` (rendered depth → TSDF → cleanup), its
  stages in `view_planning` (where the depth cameras go) and `depth_fusion` (depth → TSDF → mesh);
- `mesh_metrics`: Chamfer distance and F-scores against ground-truth meshes;
- `mesh_tools`: normals, canonical order, surface samples, ray casting, safe names;
- `pieces`: thin convex slabs of a static surface (for MuJoCo / PyBullet);
- `convex`: CoACD parts of objects (dynamic-body colliders, ≤ 64 hull vertices);
- `alignment`: imported captures in any frame → Z-up meters (up, floor, scale; with reasons);
- `floaters`: faint isolated splats left out of collision extraction;
- `usd`, `mjcf`, `urdf`, `meshes`, `nav`: file writers;
- `bundle`: the asset bundle and its format registry.

Importing this package loads nothing heavy: Open3D, pymeshlab, USD, CoACD, MuJoCo and Ray are
imported by the functions that use them.
"""

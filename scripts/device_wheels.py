"""Fill ``.whl/`` with the wheels an offline CUDA machine lacks for the GPU scripts (`gpu_tests.sh`,
`distill_dynamic_device.sh`): gsplat 1.5.3 and what the training and envs import beyond torch, numpy, scipy,
safetensors and PIL. The lent machines take at most 64 MiB with the working tree, so gsplat's wheel is
repacked without GLM's documentation and tests (5.9 of its 6.5 MB; its JIT build needs only GLM's headers).

    python scripts/device_wheels.py [--out .whl]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEELS = ["gsplat==1.5.3", "jaxtyping", "wadler_lindig", "rich", "markdown-it-py", "mdurl", "pygments", "plyfile",
          "gymnasium", "farama-notifications", "cloudpickle", "tqdm", "trimesh"]
GLM = "gsplat/cuda/csrc/third_party/glm/"


def _slim(wheel: Path) -> None:
    """Drop GLM's files outside ``glm/glm/`` (the headers) from gsplat's wheel, RECORD included, atomically."""
    tmp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        keep = [i for i in src.infolist() if not i.filename.startswith(GLM) or i.filename.startswith(GLM + "glm/")]
        names = {i.filename for i in keep}
        for info in keep:
            data = src.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines()
                data = "".join(line + "\n" for line in lines if line.split(",")[0] in names or line.endswith(",,")).encode()
            dst.writestr(info, data)
    tmp.replace(wheel)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(".whl"))
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", tmp,
                        *WHEELS], check=True)
        for wheel in Path(tmp).glob("*.whl"):
            if wheel.name.startswith("gsplat-"):
                _slim(wheel)
            wheel.replace(args.out / wheel.name)
    total = sum(p.stat().st_size for p in args.out.glob("*.whl"))
    print(f"{args.out}: {len(list(args.out.glob('*.whl')))} wheels, {total / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()

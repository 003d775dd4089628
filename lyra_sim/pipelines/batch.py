"""Batch export on Ray: one asset bundle per prompt, resumable and crash-safe.

Prompts file: one prompt per line; blank lines and lines starting with ``#`` are skipped.
A line may end with a tab and a seed (``a kitchen<TAB>7``); otherwise the seed is derived
from the base seed and the prompt text (stable when lines are reordered or added).

Each prompt becomes ``OUT/<slug>-<hash>`` where the hash covers prompt and seed, so a name
always means the same scene. Guarantees:

- **Atomic**: every bundle is built in a temporary directory beside its target and renamed
  into place (`lyra_sim.atomic.atomic_directory`), so a bundle is complete or absent even if
  the batch is killed with SIGKILL. Scratch left by killed processes is removed when the
  batch starts again (`lyra_sim.atomic.sweep_scratch`: only that of dead processes on this
  host, so a batch running beside this one keeps its work).
- **Resumable**: a bundle whose manifest verifies (every sha256 matches) and names the same
  prompt and seed is skipped; anything else is rebuilt.
- **Isolated failures**: a prompt that fails is reported with its error; the others go on.
- **Deterministic**: every bundle depends only on its prompt, seed and config, never on
  scheduling order; results are reported in the prompts file's order.

Ray runs locally by default (one task per CPU); ``ray_address`` joins an existing cluster,
whose workers must see ``OUT`` at the same path (a shared filesystem).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..atomic import sweep_scratch
from ..config import read_text
from ..exporters.bundle import DEFAULT_FORMATS, ExportConfig, parse_formats
from ..manifest import MANIFEST, read_manifest, verify
from .bundles import generate_bundle
from .sources import ProceduralSource


@dataclass(frozen=True)
class BatchItem:
    """One prompt of a batch: its text, seed and bundle directory name."""

    prompt: str
    seed: int
    name: str


@dataclass(frozen=True)
class BatchResult:
    """What happened to one item: status is ``built``, ``skipped`` (already verified) or ``failed``."""

    item: BatchItem
    status: str
    seconds: float
    error: str | None = None


def derived_seed(base_seed: int, prompt: str) -> int:
    """A seed in [0, 2³¹) from the base seed and the prompt text (sha256, platform-independent)."""
    digest = hashlib.sha256(f"{base_seed}\n{prompt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def bundle_name(prompt: str, seed: int) -> str:
    """``<slug of the prompt>-<8 hex of sha256(prompt, seed)>``, e.g. ``a-kitchen-with-a-table-1f3a9c2e``."""
    slug = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:48].rstrip("-") or "scene"
    digest = hashlib.sha256(f"{seed}\n{prompt}".encode()).hexdigest()[:8]
    return f"{slug}-{digest}"


def read_prompts(path: str | os.PathLike, base_seed: int = 0) -> list[BatchItem]:
    """Parse a prompts file (see the module docstring). Raises ValueError on a bad seed or no prompts."""
    path = Path(path)
    items: list[BatchItem] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        prompt, sep, seed_text = raw.rpartition("\t") if "\t" in raw else (line, "", "")
        prompt = prompt.strip()
        if sep:
            try:
                seed = int(seed_text.strip())
            except ValueError:
                raise ValueError(f"{path}:{number}: the seed after the tab is not an integer: {seed_text.strip()!r}") from None
        else:
            seed = derived_seed(base_seed, prompt)
        item = BatchItem(prompt, seed, bundle_name(prompt, seed))
        if item.name in seen:
            raise ValueError(f"{path}:{number}: the same prompt and seed as line {seen[item.name]}")
        seen[item.name] = number
        items.append(item)
    if not items:
        raise ValueError(f"{path}: no prompts (one per line; '#' starts a comment)")
    return items


def is_complete(bundle: Path, item: BatchItem) -> bool:
    """The bundle exists, verifies, and was made from this item's prompt and seed."""
    if not (bundle / MANIFEST).is_file() or verify(bundle):
        return False
    manifest = read_manifest(bundle)
    return manifest.get("prompt") == item.prompt and manifest.get("seed") == item.seed


def build_one(item: BatchItem, out: str, formats: Sequence[str], config: ExportConfig) -> BatchResult:
    """Generate and export one bundle; failures come back as a result, not an exception."""
    start = time.perf_counter()
    try:
        generate_bundle(Path(out) / item.name, ProceduralSource(item.prompt, item.seed), formats, config, overwrite=True)
    except Exception as exc:  # noqa: BLE001 - one failed prompt must not stop the batch
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        return BatchResult(item, "failed", time.perf_counter() - start, message)
    return BatchResult(item, "built", time.perf_counter() - start)


def run_batch(
    items: Sequence[BatchItem],
    out: str | os.PathLike,
    formats: Sequence[str] = DEFAULT_FORMATS,
    config: ExportConfig = ExportConfig(),
    *,
    ray_address: str | None = None,
    num_workers: int | None = None,
    progress: Callable[[BatchResult], None] = lambda result: None,
) -> list[BatchResult]:
    """Build the bundles of ``items`` under ``out`` on Ray (see the module docstring).

    Args:
        ray_address: an existing cluster (``ray://...`` or ``host:port``); None starts a local one.
        num_workers: CPUs of the local Ray instance (default: all); ignored with an address.
        progress: called with each result as it arrives (skipped ones first).

    Returns:
        One result per item, in the order of ``items``.
    """
    try:
        import ray
    except ImportError as exc:
        raise ImportError("batch export needs Ray; install it with: pip install \"lyra-sim[ray]\"") from exc
    formats = parse_formats(formats)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sweep_scratch(out)
    results: dict[str, BatchResult] = {}
    todo = []
    for item in items:
        if is_complete(out / item.name, item):
            results[item.name] = BatchResult(item, "skipped", 0.0)
            progress(results[item.name])
        else:
            todo.append(item)
    if todo:
        init = {"address": ray_address} if ray_address else {"num_cpus": num_workers}
        ray.init(**init, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            task = ray.remote(num_cpus=1, max_retries=0)(build_one)
            pending = {task.remote(item, str(out.resolve()), formats, config): item for item in todo}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    item = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 - a worker crash is this item's failure
                        result = BatchResult(item, "failed", 0.0, " ".join(f"{type(exc).__name__}: {exc}".split())[:500])
                    results[item.name] = result
                    progress(result)
        finally:
            ray.shutdown()
    return [results[item.name] for item in items]


def summary_table(results: Sequence[BatchResult]) -> str:
    """A plain-text table: one row per item, then totals."""
    rows = [("status", "seconds", "seed", "bundle", "prompt / error")]
    for r in results:
        detail = r.item.prompt if r.error is None else f"{r.item.prompt} -- {r.error}"
        rows.append((r.status, f"{r.seconds:.1f}", str(r.item.seed), r.item.name, detail))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    counts = {s: sum(r.status == s for r in results) for s in ("built", "skipped", "failed")}
    lines.append(f"{len(results)} prompts: {counts['built']} built, {counts['skipped']} skipped (verified), {counts['failed']} failed")
    return "\n".join(lines)

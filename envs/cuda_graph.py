"""A function of CUDA tensors replayed as one captured CUDA graph.

Why: the env's per-step work (the task's sub-steps, the observation's level-of-detail
selection, the parts' poses) is thousands of tiny kernels on ``[N]``-sized tensors. Launched
one by one from Python, the host is the bottleneck (~10 µs per launch against ~2 µs of GPU
work); replayed from a graph, the same kernels run back to back. Results are those of the
eager call: the graph *is* the eager call's kernels, on copies of the inputs.

`GraphedFunction` captures ``fn(*args)`` once per signature (each tensor argument's shape and
dtype, where None stands for an absent optional tensor, plus a caller-given ``key`` for the
Python values ``fn`` reads, such as a budget) and replays it on later calls with the same
signature. ``fn`` must be capturable: no host synchronisation, no new host-dependent shapes;
every tensor it reads other than its arguments must stay the same tensor object (module
constants, lookup tables). Its outputs are the graph's own buffers, overwritten by the next
replay: clone what must outlive it (`GraphedFunction(..., clone_outputs=True)`).
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

import torch
from torch import Tensor
from torch.utils._pytree import tree_map


def _signature(args: tuple[Tensor | None, ...]) -> tuple:
    return tuple(None if a is None else (tuple(a.shape), a.dtype, a.device) for a in args)


class _Capture:
    def __init__(self, fn: Callable[..., Any], args: tuple[Tensor | None, ...]) -> None:
        self.inputs = tuple(None if a is None else a.clone() for a in args)
        device = next(a.device for a in args if a is not None)
        # Warm up on a side stream (as torch.cuda.graphs asks), then capture; both on the input copies.
        side = torch.cuda.Stream(device=device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(2):
                fn(*self.inputs)
        torch.cuda.current_stream(device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.outputs = fn(*self.inputs)

    def run(self, args: tuple[Tensor | None, ...]) -> Any:
        for buffer, a in zip(self.inputs, args):
            if buffer is not None:
                buffer.copy_(a)
        self.graph.replay()
        return self.outputs


class GraphedFunction:
    """``fn`` (of CUDA tensors, or None for an absent optional one) replayed from CUDA graphs (see the module
    docstring). ``clone_outputs``: hand out copies of the outputs instead of the graph's buffers."""

    def __init__(self, fn: Callable[..., Any], clone_outputs: bool = False) -> None:
        self.fn = fn
        self.clone_outputs = clone_outputs
        self._captures: dict[tuple, _Capture] = {}

    def __call__(self, *args: Tensor | None, key: Hashable = None) -> Any:
        signature = (_signature(args), key)
        capture = self._captures.get(signature)
        if capture is None:
            capture = self._captures[signature] = _Capture(self.fn, args)
        out = capture.run(args)
        return tree_map(lambda t: t.clone() if isinstance(t, Tensor) else t, out) if self.clone_outputs else out

    def clear(self) -> None:
        """Forget every capture (their memory returns to the caching allocator)."""
        self._captures.clear()


__all__ = ["GraphedFunction"]

"""RTNeural's "same" feature-axis convolution (conv2d) simulated index by index, and an independent one.

:func:`rtneural_visits` replays, from the arithmetic of docs/format.md §10, the three runs of output columns
RTNeural's stateless convolution walks (windows starting left of the frame, windows inside it, windows ending
right of it) and returns every (output column, input feature, kernel tap) it touches, without checking any of
them: the tests decide what is out of bounds. :func:`same_convolution` is the zero-padded convolution
TensorFlow defines, written with numpy, and :func:`conv2d_document` a one-layer file to run both on.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

Visit = tuple[int, int, int]  # (output column, input feature, kernel tap)


def _padding(features: int, kernel: int, stride: int) -> tuple[int, int]:
    # TensorFlow: the last window ends where the frame ends, or as far past it as the kernel needs.
    covered = stride if features % stride == 0 else features % stride
    total = max(kernel - covered, 0)
    return total // 2, total - total // 2


def columns(features: int, stride: int) -> int:
    return -(-features // stride)


def rtneural_visits(features: int, kernel: int, stride: int) -> list[Visit]:
    left, right = _padding(features, kernel, stride)
    visits: list[Visit] = []
    col = 0
    # Run 1: the window starts `left - col*stride` features before the frame; its last taps meet features 0...
    while col * stride < left:
        kept = kernel - (left - col * stride)
        visits += [(col, f, kernel - kept + f) for f in range(kept)]
        col += 1
    # Run 2: the window lies inside the frame, and ends before its last feature.
    while col * stride - left + kernel < features:
        start = col * stride - left
        visits += [(col, start + t, t) for t in range(kernel)]
        col += 1
    # Run 3: the window reaches the frame's end; taps past it meet padding and are skipped.
    while col * stride - left + kernel <= features + right:
        start = col * stride - left
        visits += [(col, start + t, t) for t in range(features - start)]
        col += 1
    return visits


def reads_outside(features: int, kernel: int, stride: int) -> bool:
    """Whether any visit of :func:`rtneural_visits` lies outside the frame, the kernel or the output."""
    n = columns(features, stride)
    return any(
        not (0 <= col < n and 0 <= f < features and 0 <= t < kernel)
        for col, f, t in rtneural_visits(features, kernel, stride)
    )


def zero_padded_taps(features: int, kernel: int, stride: int) -> list[Visit]:
    """The visits TensorFlow's "same" convolution makes: every tap whose feature is inside the frame."""
    left, _ = _padding(features, kernel, stride)
    return [
        (col, col * stride - left + t, t)
        for col, t in itertools.product(range(columns(features, stride)), range(kernel))
        if 0 <= col * stride - left + t < features
    ]


def triples(max_features: int, max_kernel: int, max_stride: int) -> list[tuple[int, int, int]]:
    return list(
        itertools.product(range(1, max_features + 1), range(1, max_kernel + 1), range(1, max_stride + 1))
    )


def conv2d_document(
    features: int,
    kernel: int,
    stride: int,
    rng: np.random.Generator,
    *,
    channels: tuple[int, int] = (2, 2),
    kernel_time: int = 2,
    dilation: int = 2,
) -> dict[str, Any]:
    """One "same" conv2d layer over `features` x `channels[0]` frames, weights drawn from `rng`."""
    c_in, c_out = channels
    return {
        "in_shape": [None, None, features, c_in],
        "layers": [
            {
                "type": "conv2d",
                "activation": "",
                "shape": [None, None, columns(features, stride), c_out],
                "kernel_size_time": kernel_time,
                "kernel_size_feature": kernel,
                "dilation": dilation,
                "strides": stride,
                "num_filters_in": c_in,
                "num_features_in": features,
                "num_filters_out": c_out,
                "padding": "same",
                "weights": [
                    np.round(rng.uniform(-1, 1, size=(kernel_time, kernel, c_in, c_out)), 4).tolist(),
                    np.round(rng.uniform(-1, 1, size=c_out), 4).tolist(),
                ],
            }
        ],
    }


def same_convolution(doc: dict[str, Any], xs: np.ndarray) -> np.ndarray:
    """`doc`'s conv2d streamed over `xs` (steps x features*channels): zero-padded along features, causal
    along time (frames before the first are zero), as TensorFlow and docs/format.md §10 define it."""
    layer = doc["layers"][0]
    kernel, bias = np.asarray(layer["weights"][0]), np.asarray(layer["weights"][1])
    k_time, k_feat, c_in, c_out = kernel.shape
    features, stride, dilation = layer["num_features_in"], layer["strides"], layer["dilation"]
    left, right = _padding(features, k_feat, stride)
    reach = (k_time - 1) * dilation
    frames = xs.reshape(len(xs), features, c_in)
    padded = np.zeros((reach + len(xs), left + features + right, c_in))
    padded[reach:, left : left + features] = frames
    out = np.zeros((len(xs), columns(features, stride), c_out))
    for step, col in itertools.product(range(len(xs)), range(out.shape[1])):
        total = bias.copy()
        for i, t in itertools.product(range(k_time), range(k_feat)):
            total += padded[step + i * dilation, col * stride + t] @ kernel[i, t]
        out[step, col] = total
    return out.reshape(len(xs), -1)

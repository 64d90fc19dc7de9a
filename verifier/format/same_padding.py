"""Where RTNeural's "same" feature-axis convolution (conv2d, docs/format.md §10) stays inside its frame.

RTNeural splits the output columns of a "same" convolution in three runs: columns whose window starts left
of the frame (it keeps the window's right part, assuming it ends inside the frame), columns inside the frame,
and columns whose window ends right of it. The first run never looks at the right edge, so a window that
overhangs *both* edges reads past the frame (and writes past the output when such columns outnumber the
output). Windows starting further left end further left too, so the last column of the first run decides.

The one definition of that condition on the Python side; ``native/conv2d.h`` (``Conv2DGeometry``) holds the
C++ one, and tests/test_same_padding.py checks both against a simulation of RTNeural's loop indices.
"""

from __future__ import annotations


def same_pad_left(features_in: int, kernel: int, stride: int) -> int:
    """TensorFlow's "same" padding on the left: half (rounded down) of the total padding."""
    covered = features_in % stride or stride
    return max(kernel - covered, 0) // 2


def rtneural_reads_outside_frame(features_in: int, kernel: int, stride: int) -> bool:
    """True when RTNeural's "same" convolution over ``features_in`` features indexes outside the frame.

    All three arguments are at least 1. Never true when ``kernel <= features_in``.
    """
    pad_left = same_pad_left(features_in, kernel, stride)
    if pad_left == 0:  # no window starts left of the frame
        return False
    # The last column whose window starts left of the frame: the largest j with j * stride < pad_left.
    last_start = stride * ((pad_left - 1) // stride) - pad_left
    return last_start + kernel > features_in

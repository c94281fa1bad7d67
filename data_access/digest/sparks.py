"""A headline figure's month line as a small PNG for an e-mail (mail clients show no SVG and run no script): drawn
with Pillow, the line in the Overview's blue, the last month marked, no axes."""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence

from PIL import Image, ImageDraw

WIDTH, HEIGHT, PAD = 160, 40, 4
SCALE = 2  # drawn at twice the size and shown at half, sharp on a high-density screen
BLUE, GREY = (0, 114, 178), (200, 200, 200)


def png(values: Sequence[float | None]) -> bytes:
    """The line of ``values`` (a None is a gap), ``WIDTH`` x ``HEIGHT`` pixels shown; a flat grey line without two
    values to join."""
    w, h, pad = WIDTH * SCALE, HEIGHT * SCALE, PAD * SCALE
    image = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(image)
    known = [v for v in values if v is not None]
    if len(known) < 2:
        draw.line([(pad, h // 2), (w - pad, h // 2)], fill=GREY, width=SCALE)
    else:
        low, high = min(known), max(known)
        span = (high - low) or 1.0
        step = (w - 2 * pad) / max(len(values) - 1, 1)
        points = [
            None if v is None else (pad + i * step, h - pad - (v - low) / span * (h - 2 * pad))
            for i, v in enumerate(values)
        ]
        for a, b in itertools.pairwise(points):
            if a is not None and b is not None:
                draw.line([a, b], fill=BLUE, width=2 * SCALE)
        last = next(p for p in reversed(points) if p is not None)
        r = 3 * SCALE
        draw.ellipse([last[0] - r, last[1] - r, last[0] + r, last[1] + r], fill=BLUE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()

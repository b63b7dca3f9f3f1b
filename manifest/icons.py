"""Draws the app's two icons with the standard library only (PNG via zlib), so they can be remade.

Color icon: 192x192, a white shield with a check on the brand colour. Outline icon: 32x32, the
same shield as a white outline on a transparent background, as Teams requires.
Run `python -m manifest.icons` to rewrite manifest/color.png and manifest/outline.png.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
BRAND = (0x2B, 0x4C, 0xC9)
Shape = Callable[[float, float], float]  # coverage in [0, 1] of the point (x, y), unit square


def _shield(x: float, y: float) -> bool:
    """A shield: flat top, straight sides, pointed bottom (unit square coordinates)."""
    if y < 0.12 or y > 0.9 or x < 0.2 or x > 0.8:
        return False
    if y <= 0.55:
        return True
    half = 0.3 * (0.9 - y) / 0.35  # sides narrow linearly down to the point
    return abs(x - 0.5) <= half


def _segment_distance(px: float, py: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return float(((px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2) ** 0.5)


def _check(x: float, y: float, width: float) -> bool:
    return min(_segment_distance(x, y, (0.36, 0.5), (0.47, 0.62)), _segment_distance(x, y, (0.47, 0.62), (0.66, 0.36))) <= width


def _render(size: int, pixel: Callable[[float, float], tuple[int, int, int, int]], samples: int = 4) -> bytes:
    """RGBA rows, anti-aliased by supersampling."""
    rows = bytearray()
    for j in range(size):
        rows.append(0)  # PNG filter: none
        for i in range(size):
            acc = [0, 0, 0, 0]
            for sj in range(samples):
                for si in range(samples):
                    r, g, b, a = pixel((i + (si + 0.5) / samples) / size, (j + (sj + 0.5) / samples) / size)
                    acc[0] += r * a
                    acc[1] += g * a
                    acc[2] += b * a
                    acc[3] += a
            n = samples * samples
            alpha = acc[3] / n
            rows.extend([round(acc[k] / acc[3]) if acc[3] else 0 for k in range(3)] + [round(alpha)])
    return bytes(rows)


def png(size: int, pixel: Callable[[float, float], tuple[int, int, int, int]]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(_render(size, pixel), 9)) + chunk(b"IEND", b"")


def color_pixel(x: float, y: float) -> tuple[int, int, int, int]:
    if _shield(x, y):
        return (*BRAND, 255) if _check(x, y, 0.045) else (255, 255, 255, 255)
    return (*BRAND, 255)


def outline_pixel(x: float, y: float) -> tuple[int, int, int, int]:
    inside = _shield(x, y)
    inner = _shield(0.5 + (x - 0.5) * 1.35, 0.5 + (y - 0.52) * 1.25)
    if (inside and not inner) or _check(x, y, 0.06):
        return (255, 255, 255, 255)
    return (0, 0, 0, 0)


def main() -> None:
    (HERE / "color.png").write_bytes(png(192, color_pixel))
    (HERE / "outline.png").write_bytes(png(32, outline_pixel))


if __name__ == "__main__":
    main()

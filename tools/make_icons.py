"""Draws Outpost's PNG icons (a white peak on blue) with the standard library only.

Run once when the design changes: python3 tools/make_icons.py. The PNGs are committed.
"""
import struct
import zlib

BLUE = (29, 79, 145)
WHITE = (255, 255, 255)


def png(size, pixels):
    """An indexed PNG: the icons have two colours, so one bit a pixel (a third of the bytes
    of the 24-bit image they were first written as)."""
    palette = sorted({px for row in pixels for px in row})
    if len(palette) > 2:
        raise ValueError("the icons have two colours")
    index = {px: i for i, px in enumerate(palette)}
    rows = []
    for row in pixels:
        bits = 0
        packed = bytearray()
        for x, px in enumerate(row):
            bits = bits << 1 | index[px]
            if x % 8 == 7:
                packed.append(bits)
                bits = 0
        if size % 8:
            packed.append(bits << (8 - size % 8))
        rows.append(b"\x00" + bytes(packed))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 1, 3, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"PLTE", bytes(c for px in palette for c in px))
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


def icon(size, scale):
    """A peak whose height is `scale` of the icon (maskable icons keep a safe zone)."""
    rows = []
    half = size / 2
    top = half - size * scale / 2
    bottom = half + size * scale / 2
    for y in range(size):
        row = []
        for x in range(size):
            inside = top <= y <= bottom and abs(x - half) <= (y - top) * 0.6
            row.append(WHITE if inside else BLUE)
        rows.append(row)
    return png(size, rows)


for name, size, scale in [("icon-192.png", 192, 0.6), ("icon-512.png", 512, 0.6),
                          ("icon-maskable-512.png", 512, 0.4)]:
    with open(f"static/icons/{name}", "wb") as f:
        f.write(icon(size, scale))

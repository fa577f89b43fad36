"""The colour palette of DAVIS / PASCAL VOC annotation PNGs.

Colour of index i: the bits of i are dealt out, three at a time from the lowest, to the
most significant free bit of red, green and blue (bit 0 to red, bit 1 to green, bit 2 to
blue, then the next bit position down). Index 1 is dark red (128, 0, 0).
"""

from typing import List


def davis_palette(size: int = 256) -> List[int]:
    """Flat [r0, g0, b0, r1, ...] list for PIL's ``putpalette``."""
    flat: List[int] = []
    for index in range(size):
        rgb = [0, 0, 0]
        value, bit = index, 7
        while value:
            for channel in range(3):
                rgb[channel] |= ((value >> channel) & 1) << bit
            value >>= 3
            bit -= 1
        flat += rgb
    return flat

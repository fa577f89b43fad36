"""SAM 2 / SAM 2.1: Segment Anything in Images and Videos."""

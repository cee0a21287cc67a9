"""Sample content shared by the adapter tests."""

from __future__ import annotations

# A valid 1x1 PNG (67 bytes).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)

"""What a block format stores: its fields, each a number of bits for every so many values, and the bits
per weight that follow from them (every scale counted, padding included)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.checks import integer_in_range

PER_TENSOR = 0


@dataclass(frozen=True)
class Field:
    """One stored field: `bits` bits for every `per` values (PER_TENSOR: once per tensor), e.g. an fp16 scale per 32."""

    name: str
    bits: int
    per: int
    what: str


@dataclass(frozen=True)
class Layout:
    """A block format's storage: values come in blocks of `block` (the last block padded with zeros), each
    block holding the `fields` whose `per` divides it; fields with a larger `per` cover several blocks."""

    block: int
    fields: tuple[Field, ...]

    def bits(self, n: int) -> int:
        """Total bits to store n values: n rounded up to whole blocks, then every field counted."""
        n = integer_in_range(n, "n", 1, 2**62)
        stored = math.ceil(n / self.block) * self.block
        return sum(field.bits * (1 if field.per == PER_TENSOR else math.ceil(stored / field.per)) for field in self.fields)

    def bits_per_weight(self, n: int) -> float:
        """bits(n) / n."""
        return self.bits(n) / n

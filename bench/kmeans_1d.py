"""Speed of kmeans_1d on weight-sized inputs: python -m bench.kmeans_1d (prints a markdown table).

"first" is a call on values never seen (it builds their histogram); "again" repeats the call on the
same values, whose histogram kmeans_1d keeps when it fits its 48 MB cache (up to ~21 M float32 values).
"""

from __future__ import annotations

import numpy as np

from bench.timing import median_ms, timed
from core.quantize.kmeans import kmeans_1d, sum_squared_error

REPEATS = 5


def main() -> None:
    rng = np.random.default_rng(0)
    print("| method | values | k | first ms | again ms (median) | error (MSE) |")
    print("|---|---:|---:|---:|---:|---:|")
    for size in (2_000_000, 20_000_000):
        values = rng.normal(size=size).astype(np.float32)
        lookup = np.arange(256, dtype=np.float32)
        indices = (np.abs(values) * 40).astype(np.uint8)
        floor_ms = median_ms(lambda: values * 2.0, REPEATS)
        gather_ms = median_ms(lambda: lookup[indices], REPEATS)
        print(f"| floor: one numpy pass (x*2) | {size:,} | - | - | {floor_ms:.1f} | - |")
        print(f"| floor: one LUT gather | {size:,} | - | - | {gather_ms:.1f} | - |")
        for bits in range(1, 9):
            unseen = values + np.float32(bits * 1e-3)  # the same distribution, other bytes
            first_ms = median_ms(lambda: kmeans_1d(unseen, 2**bits), 1)
            ms, (centroids, labels) = timed(lambda: kmeans_1d(values, 2**bits), repeats=3 if size > 10**7 else REPEATS)
            mse = sum_squared_error(values, centroids, labels) / size
            print(f"| fast | {size:,} | {2**bits} | {first_ms:.1f} | {ms:.1f} | {mse:.3g} |")
    distinct = rng.normal(size=10_000)
    ms, (centroids, labels) = timed(lambda: kmeans_1d(distinct, 256, method="exact"), repeats=1)
    print(f"| exact | 10,000 distinct | 256 | {ms:.0f} | - | {sum_squared_error(distinct, centroids, labels) / distinct.size:.3g} |")


if __name__ == "__main__":
    main()

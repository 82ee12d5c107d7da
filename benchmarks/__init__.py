"""StayOS benchmarks (``make bench``): each prints ratios against a baseline of the same run.

Everything runs in a scratch database (``benchmarks.scratch``), never in the developer's data.
"""

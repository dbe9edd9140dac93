"""`vcluster bench cpu`: the keys, and figures that hang together (speed itself is not asserted)."""

from __future__ import annotations

import json

from helpers import vcluster


def test_bench_cpu_prints_guest_raw_and_kernel_mips_with_their_ratios():
    proc = vcluster("bench", "cpu", "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    for key in ("guest_mips", "raw_mips", "ratio"):
        assert result[key] > 0
    assert abs(result["ratio"] - result["guest_mips"] / result["raw_mips"]) < 0.01
    kernel = result["kernel"]
    assert kernel["output"] == "spin: 20000000 iterations, checksum 0xa352fdaf"
    assert kernel["instructions"] >= 200_000_000 * 0.999
    assert abs(kernel["ratio"] - kernel["mips"] / result["raw_mips"]) < 0.01
    assert result["memory_bound"]["ratio"] > 0
    # the human table names the same figures
    table = vcluster("bench", "cpu", timeout=300)
    assert table.returncode == 0 and "guest_mips" in table.stdout and "raw_mips" in table.stdout

"""`vcluster bench cpu`: the keys, and figures that hang together (speed itself is not asserted)."""

from __future__ import annotations

import json
import shutil
import subprocess

from helpers import ROOT, vcluster

SIZES = ("20000", "200000", "2000000")


def test_bench_cpu_prints_guest_raw_and_kernel_mips_with_their_ratios(tmp_path):
    proc = vcluster("bench", "cpu", "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    for key in ("guest_mips", "raw_mips", "ratio", "raw_wx_mips", "ratio_wx", "unsliced_mips"):
        assert result[key] > 0
    assert abs(result["ratio"] - result["guest_mips"] / result["raw_mips"]) < 0.01
    kernel = result["kernel"]
    assert kernel["output"] == "spin: 20000000 iterations, checksum 0xa352fdaf"
    assert kernel["instructions"] >= 200_000_000 * 0.999
    assert abs(kernel["ratio"] - kernel["mips"] / result["raw_mips"]) < 0.01
    assert result["memory_bound"]["ratio"] > 0
    # the W^X raw run is a run of its own (primes' stores make the two engines far apart)
    assert result["memory_bound"]["raw_wx_seconds"] != result["memory_bound"]["raw_seconds"]
    for row, output in (
        (result, kernel["output"]),
        (result["memory_bound"], "primes <= 1000000: 78498"),
    ):
        assert row["output"] == output
        assert abs(row["ratio_wx"] - row["guest_mips"] / row["raw_wx_mips"]) < 0.01
        # every slice size ran the program: the CPU layer and the kernel, each against the same raw figures
        assert sorted(row["by_slice"], key=int) == list(SIZES)
        assert sorted(row["kernel"]["by_slice"], key=int) == list(SIZES)
        for size in SIZES:
            cpu, k = row["by_slice"][size], row["kernel"]["by_slice"][size]
            assert abs(cpu["ratio_wx"] - cpu["guest_mips"] / row["raw_wx_mips"]) < 0.01
            assert abs(k["ratio_wx"] - k["mips"] / row["raw_wx_mips"]) < 0.01
            assert isinstance(cpu["per_slice_us"], float) and isinstance(k["per_slice_us"], float)
            assert cpu["slices"] >= row["instructions"] // int(size)
            assert k["output"] == output
        assert row["by_slice"]["20000"]["slices"] == row["slices"]
        assert row["kernel"]["by_slice"]["20000"]["slices"] == row["kernel"]["slices"]
    # the floating-point row: soft-float nbody on the kernel, its steps against its simulated time
    fl = result["float"]
    assert fl["program"] == f"nbody {fl['steps']}"
    assert abs(fl["steps_per_sim_second"] - fl["steps"] / fl["sim_seconds"]) < 0.01
    # the same final energy as the same source built by the host's gcc on the host's FPU
    if shutil.which("gcc"):
        src = ROOT / "guest" / "src" / "hosted-programs" / "nbody" / "nbody.c"
        exe = tmp_path / "nbody-native"
        subprocess.run(["gcc", "-O2", "-o", str(exe), str(src), "-lm"], check=True)
        native = subprocess.run([str(exe), str(fl["steps"])], capture_output=True, text=True, check=True)
        assert fl["final_energy"] == native.stdout.splitlines()[-2]
    assert fl["instructions_per_step"] > 10_000 and fl["guest_mips"] > 0
    # the human table names the same figures, and guest/raw by slice size for both programs
    table = vcluster("bench", "cpu", timeout=300)
    assert table.returncode == 0 and "guest_mips" in table.stdout and "raw_mips" in table.stdout
    for label in ("spin", "primes"):
        assert f"{label} raw MIPS" in table.stdout
        for size in SIZES:
            assert f"{label} slice {size} " in table.stdout
    assert "float (soft-float nbody)" in table.stdout
    assert (
        "raw_wx_mips" in table.stdout
        and "ratio_wx" in table.stdout
        and "per_slice_us" in table.stdout
    )

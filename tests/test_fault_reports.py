"""The V kernel's fault reports (vkernel/kernel.py), the only ones: each kind of fault of `faults KIND`
ends that program with a report naming what, where and the pc, which lies in the function of the
image that faulted (the image's own symbols are the reference); the kernel lives on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emulator.loader import load_image
from tests.helpers import run_session

FAULTS = Path(__file__).resolve().parent.parent / "guest" / "bin" / "faults"
EXPECTED = {
    "bkpt": r"exception: bkpt",
    "illegal": r"exception: illegal instruction",
    "divzero": r"exception: divide by zero",
    "unmapped": r"fault: write of unmapped page at 0x800000",
    "protected": r"fault: write of protection page at 0x001000",
    "null": r"fault: read of unmapped page at 0x000000",
    "stackoverflow": r"fault: write of unmapped page at 0xebf000: stack overflow "
    r"\(the stack may grow to 256 KB\)",
}


@pytest.mark.skipif(not FAULTS.is_file(), reason="guest image faults not built")
def test_every_fault_kind_is_reported_by_the_kernel_with_its_place():
    kinds = list(EXPECTED)
    session, summary = run_session([f"faults {k}" for k in kinds] + ["hello"], max_sim_seconds=60)
    *faulted, hello = summary["programs"]
    assert hello["exit_status"] == 0
    reports = {f.pid: f for k in session.kernels.values() for f in k.faults}
    image = load_image(FAULTS)
    for kind, prog in zip(kinds, faulted, strict=True):
        report = reports[prog["pid"]]
        assert re.fullmatch(EXPECTED[kind], report.what), (kind, report.what)
        assert prog["fault"] == str(report) and f"(pc {report.pc:#08x})" in prog["fault"]
        where = image.symbol_at(report.pc)
        assert where is not None and where.startswith(("main", "recurse")), (kind, where)

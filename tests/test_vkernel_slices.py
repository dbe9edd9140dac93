"""The kernel's slice loop: chains of slices and registers kept in the CPU change nothing a run shows.

The reference is the same run with both turned off (one event per slice
start and end, the registers read back and written again around every
slice, as the kernel did before): every system call must come at the same
simulated nanosecond with the same registers, and the summary, the kernels'
statistics and the final clock must be identical.
"""

from __future__ import annotations

import json

import pytest
from helpers import config, run_session
from hypothesis import given, settings
from hypothesis import strategies as st

from vkernel import syscalls
from vkernel.kernel import Kernel
from vkernel.process import Process


def _observe(lines: list[str], monkeypatch, *, fast: bool, **changes) -> tuple[str, int]:
    """(everything the run shows, as JSON; how many events it took)."""
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(Kernel, "_chain", lambda self, proc: 0)
            m.setattr(Kernel, "_runs_on", lambda self, proc: False)
            m.setattr(
                Process, "hold_registers", lambda self, fetch: setattr(self, "registers", fetch())
            )
        calls: list[tuple] = []
        dispatch = syscalls.SyscallTable.dispatch

        def logged(table, proc):
            r = proc.registers
            calls.append((table.k.sim.now, table.k.name, proc.pid, r.d, r.a, r.pc, r.sr))
            return dispatch(table, proc)

        m.setattr(syscalls.SyscallTable, "dispatch", logged)
        session, summary = run_session(lines, config(**changes), max_sim_seconds=300)
        stats = {
            name: (
                k.stats.slices,
                k.stats.instructions,
                k.stats.context_switches,
                k.stats.traps,
                k.cpu.slices,
                k.cpu.instructions,
            )
            for name, k in session.kernels.items()
        }
        shown = {"summary": summary, "stats": stats, "calls": calls, "now": session.sim.now}
        return json.dumps(shown, sort_keys=True, default=str), session.sim.events_run


SCENARIOS = {
    # one program alone: long chains, broken only by the other machines' events
    "alone": ["primes 150000 @ ws2"],
    # two on one CPU (no chain while the other is ready) and a third elsewhere
    "shared": ["spin 2 @ ws2", "primes 100000 @ ws2", "hello @ ws3", "wait 0.5", "spin 1 @ ws3"],
    # a program whose registers the CPU holds is migrated; the source's CPU then runs another
    "migrated": ["spin 3 @ ws2", "wait 1.5", "primes 60000 @ ws2", "migrateprog spin"],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_chained_slices_and_kept_registers_change_nothing(name, monkeypatch):
    lines = SCENARIOS[name]
    reference, reference_events = _observe(lines, monkeypatch, fast=False)
    shown, events = _observe(lines, monkeypatch, fast=True)
    assert shown == reference
    assert '"exit_status": 0' in shown
    assert events < reference_events  # the chains did happen


@settings(max_examples=6, deadline=None)
@given(slice_instructions=st.integers(100, 300_000))
def test_any_slice_size_chains_exactly(slice_instructions):
    with pytest.MonkeyPatch.context() as monkeypatch:
        lines = ["primes 40000 @ ws2", "spin 1 @ ws2", "wait 0.2", "hello"]
        reference, _ = _observe(
            lines, monkeypatch, fast=False, cpu__slice_instructions=slice_instructions
        )
        shown, _ = _observe(
            lines, monkeypatch, fast=True, cpu__slice_instructions=slice_instructions
        )
        assert shown == reference

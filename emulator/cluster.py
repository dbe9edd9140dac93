"""The cluster: every machine of a config on its Ethernet segment (gateways join several), one virtual clock."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import Any

from emulator.machine import Machine
from netsim.ethernet import Segment
from netsim.gateway import Gateway
from netsim.scheduler import Simulator

KernelFactory = Callable[[Simulator, Machine, Any, int], Any]


class Cluster:
    """Boots the hardware of a config; `kernel_factory` puts an operating system on each machine."""

    def __init__(self, config, kernel_factory: KernelFactory | None = None,
                 progress: Callable[[int, int, str], None] | None = None) -> None:
        """`progress(done, total, name)` is called as each machine comes up."""
        self.config = config
        self.sim = Simulator(seed=config.seed)
        # each segment is a source of events (netsim/scheduler.py): ties break segment by segment
        self.sim.declare_sources(config.segment_names)
        self.segments: dict[str, Segment] = {
            name: make_segment(self.sim, name, config.wire(name)) for name in config.segment_names
        }
        self.segment = next(iter(self.segments.values()))  # the first (a one-segment config: the one)
        config_dir = os.path.dirname(config.source_path) if config.source_path else None
        self.machines: list[Machine] = [
            Machine(m, i, self.segments[config.segment_of(m)], config_dir)
            for i, m in enumerate(config.machines)
        ]
        self.by_name = {m.name: m for m in self.machines}
        self.gateways: dict[str, Gateway] = {
            g.name: Gateway(self.sim, g.name, [self.segments[s] for s in g.segments],
                            latency_ns=round(g.latency_us * 1000), bandwidth_bps=g.bandwidth_bps,
                            queue_frames=g.queue_frames, index=i)
            for i, g in enumerate(config.gateways)
        }
        for gateway in self.gateways.values():
            gateway.handover = partial(_handover, self.sim, gateway)
        self.kernels: list[Any] = []
        if kernel_factory is not None:
            for i, m in enumerate(self.machines):
                with self.sim.acting(self.source_of(m.name)):
                    self.kernels.append(kernel_factory(self.sim, m, config, i))
                if progress is not None:
                    progress(i + 1, len(self.machines), m.name)
        for machine in self.machines:  # owners come and go as their activity traces say
            if machine.config.owner.trace:
                with self.sim.acting(self.source_of(machine.name)):
                    machine.owner.schedule(self.sim, machine.config.owner.transitions())
        # what the console does outside the clock is its workstation's segment's
        if config.console_host in self.by_name:
            self.sim.source = self.source_of(config.console_host)

    def source_of(self, host: str) -> int:
        """The event source (segment) of machine `host`."""
        return self.sim.source_id(self.config.segment_of(self.config.machine(host)))

    def machine(self, name: str) -> Machine:
        try:
            return self.by_name[name]
        except KeyError:
            raise KeyError(f"no host named {name!r}; hosts: {', '.join(self.by_name)}") from None

    def run(self, until_ns: int | None = None) -> None:
        self.sim.run(until=until_ns)


def _handover(sim: Simulator, gateway: Gateway, b: int, at_ns: int, frame: bytes, a: int, epoch: int) -> None:
    """A gateway's frame reaches side b at at_ns: an event of the segment handing it over
    (its place among simultaneous events), run as side b's (what it starts is b's)."""
    sim.at_for(at_ns, sim.source_id(gateway.names[b]), partial(gateway.arrive, b, frame, a, epoch))


def make_segment(sim: Simulator, name: str, net) -> Segment:
    """A segment of the config's wire parameters `net` (a NetworkConfig)."""
    return Segment(
        sim,
        name=name,
        bitrate=net.bitrate,
        length_m=net.length_m,
        propagation_ns_per_m=net.propagation_ns_per_m,
        loss_rate=net.loss_rate,
        corrupt_rate=net.corrupt_rate,
    )

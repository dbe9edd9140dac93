"""The cluster: every machine of a config on its Ethernet segment (gateways join several), one virtual clock."""

from __future__ import annotations

import os
from collections.abc import Callable
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
        self.segments: dict[str, Segment] = {
            name: make_segment(self.sim, name, config.wire(name)) for name in config.segment_names
        }
        self.segment = next(iter(self.segments.values()))  # the first (of a one-segment config: the)
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
        self.kernels: list[Any] = []
        if kernel_factory is not None:
            for i, m in enumerate(self.machines):
                self.kernels.append(kernel_factory(self.sim, m, config, i))
                if progress is not None:
                    progress(i + 1, len(self.machines), m.name)
        for machine in self.machines:  # owners come and go as their activity traces say
            if machine.config.owner.trace:
                machine.owner.schedule(self.sim, machine.config.owner.transitions())

    def machine(self, name: str) -> Machine:
        try:
            return self.by_name[name]
        except KeyError:
            raise KeyError(f"no host named {name!r}; hosts: {', '.join(self.by_name)}") from None

    def run(self, until_ns: int | None = None) -> None:
        self.sim.run(until=until_ns)


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

"""Virtual time and the wire: a discrete-event scheduler and a 10 Mb Ethernet; knows nothing of CPUs."""

from netsim.ethernet import BROADCAST, Interface, Segment, SegmentCounters, StationCounters
from netsim.pcap import PcapWriter, read_pcap
from netsim.scheduler import Event, Simulator

__all__ = [
    "BROADCAST",
    "Event",
    "Interface",
    "PcapWriter",
    "Segment",
    "SegmentCounters",
    "Simulator",
    "StationCounters",
    "read_pcap",
]

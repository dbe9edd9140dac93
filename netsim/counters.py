"""Counters of an Ethernet segment and of each station on it (plain dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SegmentCounters", "StationCounters"]


@dataclass
class SegmentCounters:
    """Whole-segment counters.  ``frames``/``bytes``: frames that completed
    without a collision (bytes are frame bytes including the FCS, 64..1518
    each).  ``collisions``: collision events (one per set of overlapping
    transmissions, however many stations took part)."""

    frames: int = 0
    bytes: int = 0
    attempts: int = 0
    collisions: int = 0
    deferrals: int = 0
    delivered: int = 0
    dropped_loss: int = 0
    dropped_corrupt: int = 0
    dropped_collisions: int = 0
    dropped_partition: int = 0
    dropped_power: int = 0
    dropped_overflow: int = 0
    withdrawn: int = 0  # frames their senders took back before they went out (not drops)

    @property
    def dropped(self) -> int:
        """All drops, whatever the cause."""
        return (
            self.dropped_loss
            + self.dropped_corrupt
            + self.dropped_collisions
            + self.dropped_partition
            + self.dropped_power
            + self.dropped_overflow
        )


@dataclass
class StationCounters:
    """Per-station counters.  Transmit side: ``frames_sent``/``bytes_sent``
    (completed without collision, bytes include FCS), ``attempts``,
    ``collisions`` (collisions this station took part in), ``deferrals``
    (frames whose transmission waited for someone else's carrier),
    ``dropped_collisions``, ``dropped_power``, ``dropped_overflow``,
    ``tx_corrupted``, ``withdrawn`` (taken back by the sender before they went out).  Receive side: ``frames_received``/``bytes_received``,
    and deliveries to this station lost to ``dropped_loss``,
    ``dropped_partition``, ``dropped_power`` (it was off)."""

    frames_sent: int = 0
    bytes_sent: int = 0
    attempts: int = 0
    collisions: int = 0
    deferrals: int = 0
    dropped_collisions: int = 0
    dropped_power: int = 0
    dropped_overflow: int = 0
    tx_corrupted: int = 0
    withdrawn: int = 0
    frames_received: int = 0
    bytes_received: int = 0
    dropped_loss: int = 0
    dropped_partition: int = 0
    rx_dropped_power: int = 0

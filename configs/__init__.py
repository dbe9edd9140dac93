"""Cluster configurations (YAML) and their schema."""

from configs.loader import load_config, load_config_text, packaged_configs, resolve_config
from configs.schema import (
    ClusterConfig,
    ConfigError,
    CostModel,
    CpuConfig,
    DiskConfig,
    FrameBufferConfig,
    IdlePolicy,
    MachineConfig,
    MigrationPolicy,
    NetworkConfig,
    OwnerConfig,
    available_images,
    parse_size,
    validate,
)

__all__ = [
    "ClusterConfig",
    "ConfigError",
    "CostModel",
    "CpuConfig",
    "DiskConfig",
    "FrameBufferConfig",
    "IdlePolicy",
    "MachineConfig",
    "MigrationPolicy",
    "NetworkConfig",
    "OwnerConfig",
    "available_images",
    "load_config",
    "load_config_text",
    "packaged_configs",
    "parse_size",
    "resolve_config",
    "validate",
]

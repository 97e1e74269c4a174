"""Hosts for the CRC blocks: ``mmseg`` (MMEngine Runner, datasets, metric) and ``pfenet``."""

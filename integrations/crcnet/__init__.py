"""CRCNet's family record (:mod:`integrations.crcnet.family`).

The model is ``crc_modules.CRCNet``, registered by ``crc_modules``."""
import crc_modules  # noqa: F401  (registers CRCNet and its blocks)

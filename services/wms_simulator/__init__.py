"""A stand-in for the plant's WMS: stock per warehouse and material, reservations that can be
replaced, released and issued, over the HTTP contract the inventory service's adapter speaks
(docs/wms-adapter.md), with switchable latency, errors and outages.

    python -m services.wms_simulator --port 8080 --db var/wms.db     # its own process
    handle = start_in_thread()                                        # tests, the embedded stack
"""

from services.wms_simulator.faults import Faults
from services.wms_simulator.server import SimulatorHandle, start_in_thread

__all__ = ["Faults", "SimulatorHandle", "start_in_thread"]

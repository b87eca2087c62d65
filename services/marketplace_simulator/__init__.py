"""A stand-in for the JD, Pinduoduo and Taobao/Tmall open-platform gateways: paged, time-windowed
order lists in each platform's own shape, signatures checked as each platform checks them, and
switchable faults (flow control, platform errors, HTTP 500, slow answers, garbage bodies, pages
that shift while an adapter reads them). docs/marketplaces.md describes the shapes.

    python -m services.marketplace_simulator --port 8090 --seed     # its own process
    handle = start_in_thread(shops=demo_shops())                     # tests, the embedded stack
"""

from services.marketplace_simulator.server import SimulatorHandle, start_in_thread
from services.marketplace_simulator.store import Fault, Shop

__all__ = ["Fault", "Shop", "SimulatorHandle", "start_in_thread"]

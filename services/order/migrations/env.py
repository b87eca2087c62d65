from services.chassis.migrations import run_env
from services.order.adapters.tables import metadata

run_env(metadata)

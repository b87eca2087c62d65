from services.chassis.migrations import run_env
from services.customer.adapters.tables import metadata

run_env(metadata)

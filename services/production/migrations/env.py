from services.chassis.migrations import run_env
from services.production.adapters.tables import metadata

run_env(metadata)

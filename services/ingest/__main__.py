from services.chassis.main import main
from services.ingest.app import definition

main(definition)

from services.chassis.main import main
from services.production.app import definition

main(definition)

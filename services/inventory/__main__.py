from services.chassis.main import main
from services.inventory.app import definition

main(definition)

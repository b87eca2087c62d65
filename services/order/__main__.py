from services.chassis.main import main
from services.order.app import definition

main(definition)

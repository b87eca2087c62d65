from services.chassis.main import main
from services.customer.app import definition

main(definition)

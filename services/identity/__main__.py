from services.chassis.main import main
from services.identity.app import definition

main(definition)

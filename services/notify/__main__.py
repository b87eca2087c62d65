from services.chassis.main import main
from services.notify.app import definition

main(definition)

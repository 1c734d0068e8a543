"""``python -m lifegate.cli``."""

from lifegate.cli.main import main

main()

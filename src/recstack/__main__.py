"""``python -m recstack`` runs the command line."""

from recstack.cli import main

main()

"""`python -m fedaudit` runs the same command as `fedaudit`."""

from fedaudit.cli import main

main()

"""The `fedaudit` command: its root lives here, with the local demo launcher."""

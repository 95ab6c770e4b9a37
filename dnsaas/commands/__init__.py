"""Subcommands of the ``dnsaas`` CLI, one module each (``register(subparsers)``)."""

"""pytest plugin ``dnsaas``: fixtures that start a real dnsaas stack for downstream tests."""

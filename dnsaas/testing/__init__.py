"""Test helpers: free loopback ports and launchers for real nameservers (BIND, PowerDNS, Knot)."""

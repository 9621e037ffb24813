"""DNS: a small internet's name system on loopback (root, TLD, authoritative, resolver)."""

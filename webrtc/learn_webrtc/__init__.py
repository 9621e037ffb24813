"""WebRTC: signaling, STUN, TURN and aiortc peers through NAT."""

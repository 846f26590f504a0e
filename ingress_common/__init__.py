"""Small pieces both the gateway and the device agent use (stdlib only)."""

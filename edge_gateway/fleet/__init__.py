"""The gateway's part in the fleet: device health reports in, desired settings back out.
Its cost grows with the devices this gateway serves, never with the fleet."""

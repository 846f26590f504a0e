"""Who a device is: its own key, the fleet's decision about it, and its request to join."""

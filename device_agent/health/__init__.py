"""The device's health: what it reports to the gateway, when, and the settings that come back."""

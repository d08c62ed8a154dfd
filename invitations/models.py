"""Models arrive with their issue; the app is registered so its tables land in the public schema."""

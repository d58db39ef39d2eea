"""The user-service components: one module per concern (see README's layout)."""

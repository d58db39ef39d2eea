"""Promotion of what test proved to prod, and rollback with history, for real stacks
(Pulumi's Automation API) and for the local cloud."""

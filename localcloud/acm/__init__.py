"""ACM resource kinds: certificates requested with DNS validation, and their validation."""

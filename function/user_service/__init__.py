"""user-service: the Lambda handler behind the users CRUD API (entry: user_service.handler.handler)."""

"""Direct messages: 1:1 and group threads, requests, read state, typing."""

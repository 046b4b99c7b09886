"""Routing: put each waiting conversation in front of the right available agent."""

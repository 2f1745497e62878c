"""Tier rule books: schema, compile, evaluate, the expression plan, lint, back ends."""

"""KPI books: targets checked against portfolio data."""

"""Reports: the monthly cycle's HTML report, its tables and charts."""

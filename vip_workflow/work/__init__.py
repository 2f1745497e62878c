"""Work: signals turned into deduplicated tasks and retention cases, per account manager."""

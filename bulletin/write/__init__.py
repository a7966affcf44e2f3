"""Stage 4: bring the site folder up to date, only changed bytes, all or nothing."""

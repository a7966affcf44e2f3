"""Stage 3: turn the model into pages (HTML, XML) and issue PDFs through the theme."""

"""Stage 4: write the rendered site into a staging folder and swap it in whole."""

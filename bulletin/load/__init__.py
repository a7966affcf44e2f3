"""Stage 1: read a bulletin's files from disk and validate them into the model
(`project.load_bulletin` is the whole stage)."""

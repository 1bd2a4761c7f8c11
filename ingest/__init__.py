"""Files in, chunks in the index: discover, parse, chunk, embed, write."""

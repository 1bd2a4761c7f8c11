"""A question from a known person in, a cited answer out: filter, retrieve, pack, generate."""

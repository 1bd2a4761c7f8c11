"""Evaluation: retrieval quality (BEIR), answer quality (SQuAD, a site's golden set)."""

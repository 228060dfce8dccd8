"""Measurements over models and runs: parity between backends, throughput, perplexity."""

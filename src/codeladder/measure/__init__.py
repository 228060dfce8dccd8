"""Measurements over the engine protocol (``codeladder.backends.base.Engine``): bench, parity, perplexity,
check. Each is a few functions that call engine methods, so every backend whose engine has the capability
(tokenize, logits, greedy) gets them all; nothing here branches on a backend's name."""

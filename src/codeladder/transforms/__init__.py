"""Transforms: model folder in, model folder out (merge, prune, adapters), each through the one writer."""

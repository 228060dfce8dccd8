"""One module per claim kind: a params class and ``check(params, artifacts) -> Outcome``."""

"""Ship a model: `ladder submit` (a release folder and model card built from result files) and `ladder compile`
(one executable file with the GGUF inside)."""

"""SAM 2 on onnxruntime: export (needs torch) and predictors that run the exported graphs (no torch)."""

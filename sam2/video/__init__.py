"""Building blocks of the video predictor: frame sources, caches, state, post-processing."""

"""One module per case; each has `run(env, cfg, report)` that adds its rows and its baselines' rows."""

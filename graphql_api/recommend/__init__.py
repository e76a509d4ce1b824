"""Slot recommendations: features, the heuristic, the XGBoost model, training."""

"""Machine learning: weekly student features, the versioned churn model and its scores, the hourly
demand forecast per course with its backtest and its accuracy on what really happened."""

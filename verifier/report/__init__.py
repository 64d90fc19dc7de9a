"""Reports: the run's results formatted as text, JSON, Markdown or JUnit; baselines; the machine."""

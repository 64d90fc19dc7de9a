"""The checks ``verify`` runs: numeric agreement, tolerances, budgets, the manifest, and the run itself.
Each returns data; nothing here prints."""

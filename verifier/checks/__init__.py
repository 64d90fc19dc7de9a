"""The checks ``verify`` runs, in four rooms.

* the modules here are **the checks themselves**: each turns figures into a ``Check`` (``results``), and
  nothing else — the pass rule (``passrule``), element-wise comparison (``compare``), the tolerance model
  (``tolerance``), numeric agreement (``agreement``), error statistics (``errorstats``), budgets
  (``budgets``, with the RSS probe it runs in a child process), and the validation check (``validation``);
* ``diagnose/`` explains a failure: the first diverging layer, a chaotic stream's horizon, the reduced
  repro folder;
* ``run/`` runs them: the manifest, the run options and the reference module, one file's steps and the
  whole run, failure isolation, the result cache and embedded golden data;
* ``golden/`` writes golden data for a plugin's own C++ tests, from the run's references.

Imports flow golden -> run -> diagnose -> the checks (import-linter enforces it). Nothing here prints.
"""

"""PyTorch on both sides of the file: ``export`` (module -> keras-json) and ``reference`` (keras-json ->
stock torch modules, sharing no code with the engine)."""

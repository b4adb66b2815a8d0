"""Built-in pipeline steps, one module per family. Each module registers its steps in
``gencommons.data.step.steps`` when imported; the registry imports every module here on first use."""

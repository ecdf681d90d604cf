"""Built-in subcommands; each module exposes `register(app)` for the `spectfsl.commands` entry points."""

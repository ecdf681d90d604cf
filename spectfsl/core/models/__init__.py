"""Models shipped inside the package (`--model builtin`, `--init builtin`) and the recipes that make them."""

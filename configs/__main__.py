"""`python -m configs`: print the field reference tables of docs/CONFIG.md."""

from configs.schema import reference_markdown

print(reference_markdown(), end="")

"""The start pipeline's pure rules: cooldown, which templates an upgrade replaces, the
visibility query of a family's running sequences, and what one start reports."""

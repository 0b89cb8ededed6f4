"""The pure core: message model, validation, states, policies. Standard library only, no I/O."""

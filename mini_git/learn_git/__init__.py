"""mini_git: git's object model, commands and smart HTTP protocol, byte-compatible with real git."""

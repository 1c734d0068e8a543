"""The lifegate command line: one module per subcommand."""

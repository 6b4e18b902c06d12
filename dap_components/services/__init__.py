"""One module per service of the ServiceHost."""

"""The todo library: domain operations and adapters shared by every function."""

"""The real platform on one machine: Postgres, a broker, every function behind its own daprd (issue #10)."""

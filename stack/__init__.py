"""The real platform on one machine: Postgres, a broker, each function behind its daprd."""

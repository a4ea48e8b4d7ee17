"""Pure cores: no asyncio, sockets, files or reading the clock."""

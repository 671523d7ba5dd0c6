"""Helpers the tests share: walks through the processes, the world they run in, web clients."""

"""The service: the Kafka loop of a worker and the processing core it drives.

Strategy: one room per concern, bottom up. `events` are the output schemas; `kafka` turns settings
into client arguments; `broker` starts the embedded development broker; `screening` is the seam the
watchlist engine plugs into; `prepare` is the pure, CPU-bound half of a record (read, validate,
assemble, screen); `iapi` decides the interactive answer; `senders` binds UNB senders to the
carriers the transport authenticated; `processor` is the I/O half (the stored transaction,
replays, duplicates, parts); `pipeline` consumes, processes, produces and commits; `http` serves
health and metrics. Data protection (`api_engine.protection`) is applied inside the processor,
before anything is stored or leaves.
"""

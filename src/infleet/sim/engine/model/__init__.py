"""The simulated engine's model: what a vLLM engine computes and how long each step takes.

Pure and deterministic: the engine spec, the GPU performance model (roofline step times), the KV cache
block pool with prefix caching, the continuous-batching scheduler and its decode runs, the sequences it
steps, and the text and tokens they produce. Nothing here knows of the event loop, timers, sockets or
clients; the runtime (``infleet.sim.engine.runtime``) drives it, and tests drive it on a manual clock.
"""

"""The simulated engine's runtime: the model served on the event loop, over vLLM's HTTP API.

It steps the model's scheduler on the loop's clock (catching up when the host runs late), delivers
tokens to HTTP streams (paced wake-ups, a process-wide flush governor, followers that write responses),
injects faults, and hosts many engines in one process (``EngineHost``).
"""

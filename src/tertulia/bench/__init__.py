"""``tertulia bench``: a load generator and report for sizing a Tertulia server.

The generator runs in several worker processes (each on uvloop when installed) so that it is
not the bottleneck; the parent process starts the server under test, drives the workers
through the phases of a scenario, samples the server's CPU and memory from ``/proc`` and
writes the report. Every run checks correctness at each receiver: lost, duplicated or
reordered messages must all be zero.

An IRC mode of the same generator drives InspIRCd and ngIRCd with identical settings, so
``make bench`` can put Tertulia side by side with them (``docs/benchmarks.md``).

Modules: ``clients`` (protocol clients), ``worker`` (generator processes), ``pool`` (driving
them), ``targets`` (servers under test), ``seed`` (preparing Tertulia's database),
``scenarios`` (what is measured), ``report``/``plots``/``document`` (output), ``suite`` (the
side-by-side runs of ``make bench``).
"""

__all__: list[str] = []

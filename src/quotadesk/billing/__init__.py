"""The rulebook: pure functions of the books' values and ``now``. No I/O, no clock.

Imports nothing outside the standard library and ``quotadesk.money`` (a test keeps it so).
"""

"""What the phase notebooks show, section by section: one module per phase or subject.

A view module turns dataset tables and cpkit results into the tables, texts and figures of
one chapter of the audit report (pandas in, pandas out for the figures; display objects
built with :mod:`cpkit.display` and the message catalogue for what a reader sees), so the
notebooks hold only narrative, parameters and calls.
"""
